"""What every layer shares: settings, exceptions, logs, the seed example."""
