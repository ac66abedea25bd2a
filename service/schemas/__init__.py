"""The wire contract: what a request may hold and what a response holds (see DESIGN.md)."""
