"""Revocation: the capturing device must not have been revoked before the capture."""

from __future__ import annotations

from datetime import datetime

from verifier.models import CheckResult, DisputeContext, EvidenceFacts
from verifier.reasons import ReasonCode

__all__ = ["check_revocation"]


def check_revocation(facts: EvidenceFacts, ctx: DisputeContext) -> list[CheckResult]:
    """Evidence from a device revoked before the seal is refused; earlier seals stand."""
    if facts.assertion is None:
        return []
    revoked_at = facts.revoked_devices.get(facts.assertion.device_id)
    if revoked_at is None:
        return [CheckResult("revocation", ReasonCode.SIGNER_REVOKED, True, "device not revoked")]
    try:
        received = datetime.fromisoformat(facts.assertion.received_at)
    except ValueError:
        received = ctx.now
    after = received >= revoked_at
    return [
        CheckResult(
            "revocation",
            ReasonCode.SIGNER_REVOKED,
            not after,
            f"device {facts.assertion.device_id} was revoked at {revoked_at.isoformat()}, "
            "before this seal"
            if after
            else f"device revoked at {revoked_at.isoformat()}, after this seal: still valid",
        )
    ]
