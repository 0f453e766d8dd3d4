"""Evidence identity by content: the file must be the very bytes OrderSeal sealed.

The ledger row of a sealed file is found by the file's SHA-256, never by the manifest id
alone: the id is chosen by whoever signs. A manifest id that names a row whose sealed bytes
differ from this file (a `free` box appended, `ftyp` edited, anything else changed after
sealing, or a signature made elsewhere around a copied id) is ``not_as_sealed``, even when
c2pa's hash binding still covers the visible content.
"""

from __future__ import annotations

from verifier.models import CheckResult, DisputeContext, EvidenceFacts
from verifier.reasons import ReasonCode

__all__ = ["check_identity"]


def check_identity(facts: EvidenceFacts, ctx: DisputeContext) -> list[CheckResult]:
    """The file's bytes and its manifest id name the same ledger row, or none at all."""
    report = facts.report
    if report is None:
        return []
    label = report.active_manifest.label
    altered = facts.altered_record
    if altered is not None:
        return [
            CheckResult(
                "identity",
                ReasonCode.NOT_AS_SEALED,
                False,
                f"the manifest names sealed evidence {altered.evidence_id}, but this file's "
                "bytes differ from the file OrderSeal sealed: it was changed after sealing",
            )
        ]
    record = facts.ledger_record
    if record is not None and record.manifest_id != label:
        return [
            CheckResult(
                "identity",
                ReasonCode.NOT_AS_SEALED,
                False,
                "the ledger records these bytes under a different manifest",
            )
        ]
    if record is not None:
        return [
            CheckResult(
                "identity",
                ReasonCode.NOT_AS_SEALED,
                True,
                f"byte for byte the file sealed as {record.evidence_id}",
            )
        ]
    return []
