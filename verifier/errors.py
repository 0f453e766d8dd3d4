"""Errors raised by the verifier's service layer."""

from __future__ import annotations

from infra.errors import ConflictError, InputError

__all__ = ["DisputeDecidedError", "DisputeError", "VerificationPendingError"]


class DisputeError(InputError):
    """A dispute request cannot be accepted as it is."""

    code = "dispute_invalid"


class DisputeDecidedError(ConflictError):
    """The dispute is decided: its files are kept (attach more and decide again instead)."""

    code = "dispute_decided"


class VerificationPendingError(ConflictError):
    """A file of the dispute is still being verified by a job: decide once it is done.

    A verdict that ignored the file could allow a refund its evidence would block.
    """

    code = "verification_pending"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.details = {"retry_after_seconds": 5}
        self.headers = {"Retry-After": "5"}
