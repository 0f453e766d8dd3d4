"""Serial continuity: the unit the buyer received is the unit the station sealed at shipment."""

from __future__ import annotations

from pydantic import ValidationError

from evidence.manifest import ASSERTION_LABEL, CaptureAssertion, Stage
from verifier.models import CheckResult, DisputeContext, EvidenceFacts
from verifier.reasons import ReasonCode

__all__ = ["check_serial", "shipped_serials"]


def shipped_serials(facts: EvidenceFacts) -> tuple[str, ...]:
    """Serials sealed at shipment, read from the receipt's chained shipment manifests.

    The shipment manifests travel inside the receipt as ingredients (their validation is the
    chain check's job), so the comparison needs neither the store nor the ledger.
    """
    if facts.assertion is None or facts.report is None:
        return ()
    found: list[str] = []
    for link in facts.assertion.chain:
        manifest = facts.report.manifests.get(link.manifest_id)
        data = manifest.assertions.get(ASSERTION_LABEL) if manifest else None
        if data is None:
            continue
        try:
            shipped = CaptureAssertion.model_validate(data)
        except ValidationError:
            continue
        found.extend(s for s in shipped.serials if s not in found)
    return tuple(found)


def check_serial(facts: EvidenceFacts, ctx: DisputeContext) -> list[CheckResult]:
    """The serial the buyer scanned or typed at receipt was sealed at shipment.

    Runs only when both sides recorded serials: a receipt without a serial, or a shipment of
    an order without serial numbers, has nothing to compare.
    """
    assertion = facts.assertion
    if assertion is None or assertion.stage != Stage.RECEIPT or not assertion.serials:
        return []
    shipped = shipped_serials(facts)
    if not shipped:
        return []
    unknown = [s for s in assertion.serials if s not in shipped]
    detail = (
        f"received serial {', '.join(assertion.serials)} was sealed at shipment"
        if not unknown
        else f"received serial(s) {', '.join(unknown)} but shipment sealed "
        f"{', '.join(shipped)}: the wrong item was sent, or the item was swapped"
    )
    return [CheckResult("serial", ReasonCode.SERIAL_MISMATCH, not unknown, detail)]
