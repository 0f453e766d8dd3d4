"""Base error type carrying a stable code and the HTTP status it maps to."""

from __future__ import annotations

__all__ = ["ConflictError", "InputError", "NotFoundError", "OrderSealError", "UnavailableError"]


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


class InputError(OrderSealError):
    """The request or file is malformed; retrying it unchanged will not help."""

    code = "invalid_input"
    http_status = 422


class NotFoundError(OrderSealError):
    """A referenced record does not exist (or the caller may not know it does)."""

    code = "not_found"
    http_status = 404


class ConflictError(OrderSealError):
    """The request contradicts the stored state (duplicate, closed session, ...)."""

    code = "conflict"
    http_status = 409


class UnavailableError(OrderSealError):
    """A dependency (database, storage, signer) is down; the client may retry."""

    code = "service_unavailable"
    http_status = 503
