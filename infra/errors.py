"""The server's error types; the base, with its stable code and HTTP status, is ``wire.errors``.

The base lives beneath infra so the station tool, installed without the server, raises the same
type (docs/architecture.md).
"""

from __future__ import annotations

from wire.errors import OrderSealError

__all__ = ["ConflictError", "InputError", "NotFoundError", "OrderSealError", "UnavailableError"]


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
