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

    A mismatch says whose side it points to (``attribution``). The merchant's: the buyer holds
    a unit the order lists (the merchant's own stock named for this order) other than the one
    the station sealed, or the station sealed a unit the order does not list; either way the
    seller packed or shipped another unit than its sealed record shows. The buyer's: the
    station sealed a unit the order lists and the buyer reports one the order never named, a
    unit from elsewhere (a swap after a correct, sealed shipment).
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
    return [
        CheckResult(
            "serial",
            ReasonCode.SERIAL_MISMATCH,
            not unknown,
            detail,
            attribution=_attribution(unknown, shipped, ctx) if unknown else None,
        )
    ]


def _attribution(unknown: list[str], shipped: tuple[str, ...], ctx: DisputeContext) -> str:
    listed = set(ctx.order.serials) if ctx.order is not None else set()
    if any(s in listed for s in unknown) or any(s not in listed for s in shipped):
        return "merchant"
    return "buyer"
