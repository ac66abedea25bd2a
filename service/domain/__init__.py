"""The service's work: request → problem, running the engines, comparing, grading, training."""
