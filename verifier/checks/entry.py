"""How the label reached the buyer's page: a typed label code sends the claim to a person.

The receipt seal carries ``label_entry`` (``evidence/label_entry.py``): ``scanned`` by the
page's camera, ``link`` (the phone's camera or WeChat opened our label URL) or ``typed``.
The page declares it and the page is the buyer's, so the marker only ever downgrades: a
typed code fails with ``label_typed`` (review by default, a policy may allow it); a scanned
one passes and vouches for nothing more than a receipt sealed before the marker existed.

Adversary: a buyer who opens an "unboxing" from a code read off a photo of the label, before
the parcel arrives. An honest page says ``typed``; a lying one can say ``scanned``, which is
why ``scanned`` earns nothing and other checks (the label in the receipt video, the chain,
the window) still carry the weight.
"""

from __future__ import annotations

from evidence.label_entry import LabelEntry
from evidence.manifest import Stage
from verifier.models import CheckResult, DisputeContext, EvidenceFacts
from verifier.reasons import ReasonCode

__all__ = ["check_label_entry"]

_DETAILS = {
    LabelEntry.SCANNED: "the buyer's page says it scanned the parcel's label with its camera",
    LabelEntry.LINK: "the buyer's page says the phone's camera opened the parcel's label link",
    LabelEntry.TYPED: "the buyer's page says the label code was typed or pasted, not scanned",
}


def check_label_entry(facts: EvidenceFacts, ctx: DisputeContext) -> list[CheckResult]:
    """A receipt seal's ``label_entry``: ``typed`` fails (``label_typed``).

    Runs only on receipts sealed with the marker; older receipts, shipment captures and files
    without our assertion have nothing to weigh.
    """
    assertion = facts.assertion
    if assertion is None or assertion.stage != Stage.RECEIPT or assertion.label_entry is None:
        return []
    entry = assertion.label_entry
    detail = f"{_DETAILS[entry]} (declared by the buyer's page)"
    return [
        CheckResult("label_entry", ReasonCode.LABEL_TYPED, entry is not LabelEntry.TYPED, detail)
    ]
