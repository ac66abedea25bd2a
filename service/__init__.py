"""gradient-service: a network's loss, prediction and gradients from two independent engines."""

__version__ = "0.1.0"
