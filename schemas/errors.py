"""The one exception root for Vigil, and the error raised for input that breaks a contract."""

from __future__ import annotations


class VigilError(Exception):
    """Root of every exception Vigil raises on purpose; catch this to catch them all."""


class InvalidEvent(VigilError):
    """An event broke its contract; ``reason`` says how in words an engineer can act on.

    ``kind`` is a short, stable, low-cardinality code (``bad_json``, ``unknown_type``,
    ``invalid_field``, ``oversized``, ...) used for metrics and dead-letter grouping.
    """

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(f"{kind}: {reason}")
        self.kind = kind
        self.reason = reason
