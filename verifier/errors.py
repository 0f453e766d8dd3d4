"""Errors raised by the verifier's service layer."""

from __future__ import annotations

from infra.errors import InputError

__all__ = ["DisputeError"]


class DisputeError(InputError):
    """A dispute request cannot be accepted as it is."""

    code = "dispute_invalid"
