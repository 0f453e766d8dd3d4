"""The error base: a stable code and the HTTP status it maps to.

``infra.errors`` re-exports it with the server's subclasses; the station tool subclasses it
without installing the server.
"""

from __future__ import annotations

__all__ = ["OrderSealError"]


class OrderSealError(Exception):
    """An error a caller can act on: a stable ``code``, a human message and an HTTP status.

    Messages say what was expected versus found; they never carry secrets, tokens or paths.
    """

    code: str = "internal_error"
    http_status: int = 500
    #: Extra machine-readable fields for the error body (e.g. intake findings); no secrets.
    details: dict[str, object] | None = None

    def __init__(self, message: str, *, code: str | None = None, http_status: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if http_status is not None:
            self.http_status = http_status
