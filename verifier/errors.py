"""Errors raised by the verifier's service layer."""

from __future__ import annotations

from infra.errors import ConflictError, InputError

__all__ = ["DisputeDecidedError", "DisputeError"]


class DisputeError(InputError):
    """A dispute request cannot be accepted as it is."""

    code = "dispute_invalid"


class DisputeDecidedError(ConflictError):
    """The dispute is decided: its files are kept (attach more and decide again instead)."""

    code = "dispute_decided"
