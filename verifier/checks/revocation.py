"""Revocation: neither the capturing device nor the sealing key may be revoked before the seal.

A seal made *before* its key's revocation stays valid, with a note in the verdict; one made
after (or whose time cannot be established) is refused with ``signer_revoked``.

When was it sealed? The most trusted time available, in this order:

1. the RFC 3161 timestamp in the manifest (``ManifestFacts.signed_at``; c2pa checks the
   timestamp authority against our anchors, ``verify_timestamp_trust=true``);
2. our ledger's ``sealed_at`` for that manifest: written by us at sealing, so a stolen key
   cannot forge it. For the file itself the ledger row must also match its bytes;
3. for a device revocation only, the service-signed ``received_at`` in the assertion (the
   device cannot forge it; the service key vouches for it, and its own revocation is
   checked separately).

A revoked sealing key without a timestamp or ledger record gives no trusted time: refused.
"""

from __future__ import annotations

from datetime import datetime

from evidence.manifest import CaptureAssertion
from evidence.reader import ManifestFacts, ReaderReport
from verifier.models import CheckResult, DisputeContext, EvidenceFacts
from verifier.reasons import ReasonCode

__all__ = ["check_revocation"]

_CHECK = "revocation"


def check_revocation(facts: EvidenceFacts, ctx: DisputeContext) -> list[CheckResult]:
    """Refuse evidence sealed by a device or sealing key after that key's revocation."""
    results: list[CheckResult] = []
    if facts.assertion is not None:
        results.append(_device_result(facts, facts.assertion))
    if facts.report is not None:
        results.extend(_service_results(facts, facts.report))
    return results


def _trusted_seal_time(
    facts: EvidenceFacts, manifest: ManifestFacts
) -> tuple[datetime, str] | None:
    if manifest.signed_at is not None:
        return manifest.signed_at, "timestamp"
    record = facts.ledger_record
    if (
        record is not None
        and record.manifest_id == manifest.label
        and record.sealed_sha256 == facts.content_sha256
    ):
        return record.sealed_at, "ledger"
    shipped = facts.shipment_records.get(manifest.label)
    if (
        facts.report is not None
        and manifest.label != facts.report.active_manifest.label
        and shipped
    ):
        return shipped.sealed_at, "ledger"
    return None


def _device_result(facts: EvidenceFacts, assertion: CaptureAssertion) -> CheckResult:
    device_id = assertion.device_id
    revoked_at = facts.revoked_devices.get(device_id)
    if revoked_at is None:
        return CheckResult(_CHECK, ReasonCode.SIGNER_REVOKED, True, "device not revoked")
    sealed = _trusted_seal_time(facts, facts.report.active_manifest) if facts.report else None
    if sealed is None:
        try:
            sealed = datetime.fromisoformat(assertion.received_at), "seal"
        except ValueError:
            sealed = None
    return _judge(f"device {device_id}", revoked_at, sealed)


def _service_results(facts: EvidenceFacts, report: ReaderReport) -> list[CheckResult]:
    results = []
    for manifest in report.ingredient_chain():
        serial = manifest.cert_serial_number
        revoked_at = facts.revoked_service_certificates.get(serial or "")
        if revoked_at is None:
            continue
        which = "sealing key" if manifest is report.active_manifest else "shipment key"
        results.append(
            _judge(
                f"{which} (serial {int(serial or '0'):x})",
                revoked_at,
                _trusted_seal_time(facts, manifest),
            )
        )
    return results


def _judge(what: str, revoked_at: datetime, sealed: tuple[datetime, str] | None) -> CheckResult:
    if sealed is None:
        return CheckResult(
            _CHECK,
            ReasonCode.SIGNER_REVOKED,
            False,
            f"{what} was revoked at {revoked_at.isoformat()} and no trusted time shows this "
            "seal came before",
        )
    at, source = sealed
    if at >= revoked_at:
        return CheckResult(
            _CHECK,
            ReasonCode.SIGNER_REVOKED,
            False,
            f"{what} was revoked at {revoked_at.isoformat()}, before this seal "
            f"({source} time {at.isoformat()})",
        )
    return CheckResult(
        _CHECK,
        ReasonCode.SIGNER_REVOKED,
        True,
        f"note: {what} was revoked at {revoked_at.isoformat()}, after this seal "
        f"({source} time {at.isoformat()}): still valid",
    )
