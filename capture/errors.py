"""Errors raised by the capture side."""

from __future__ import annotations

from infra.errors import ConflictError, InputError, OrderSealError

__all__ = ["CaptureError", "SealError", "SessionClosedError", "TokenError"]


class CaptureError(InputError):
    """An upload or session request cannot be accepted as it is."""

    code = "capture_refused"


class SealError(OrderSealError):
    """c2pa refused to seal the media (unsupported or corrupt input)."""

    code = "seal_failed"
    http_status = 422


class SessionClosedError(ConflictError):
    """The capture session is closed or expired."""

    code = "session_closed"


class TokenError(OrderSealError):
    """A label or buyer token is malformed, forged or expired."""

    code = "token_invalid"
    http_status = 401
