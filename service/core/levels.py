"""The log levels the service and its command line take, most severe first."""

LEVELS = ("critical", "error", "warning", "info", "debug")
