"""Exceptions the example handlers raise."""


class Transient(Exception):
    """Raised when a downstream service failed in a way that a retry may fix."""
