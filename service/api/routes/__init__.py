"""Thin routers, one per concern: parse, call the domain code, shape the answer."""
