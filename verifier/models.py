"""Frozen facts the checks receive, and the typed result each check returns.

The verdict built from those results is ``verifier.schemas.VerdictOut``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from evidence.manifest import CaptureAssertion
from evidence.reader import ReaderReport
from verifier.reasons import ReasonCode

__all__ = [
    "CheckResult",
    "Decision",
    "DisputeContext",
    "EvidenceFacts",
    "LedgerEvidence",
    "OrderFacts",
]


class Decision(StrEnum):
    """What the refund gate does. Precedence: block > review > allow."""

    ALLOW = "allow"
    REVIEW = "review"
    BLOCK = "block"

    @property
    def rank(self) -> int:
        """Higher wins when combining."""
        return {"allow": 0, "review": 1, "block": 2}[self.value]


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome: ``code`` names what was checked (and the failure when not passed)."""

    check: str
    code: ReasonCode
    passed: bool
    detail: str
    agent_detail: str = ""  # names other disputes or accounts: shown to agents only
    #: Whose side a failure points to (``merchant``: the seller shipped the wrong unit;
    #: ``buyer``: the unit was swapped after a sealed, correct shipment); None when neither.
    attribution: str | None = None


@dataclass(frozen=True)
class OrderFacts:
    """The ledger's order, as the checks need it."""

    order_id: str
    buyer_id: str
    created_at: datetime
    expected_delivery: datetime | None
    #: Every unit serial the order lists (the merchant's units the platform named for it).
    serials: tuple[str, ...] = ()


@dataclass(frozen=True)
class LedgerEvidence:
    """A sealed evidence row from the ledger."""

    evidence_id: str
    order_id: str
    stage: str
    manifest_id: str
    original_sha256: str
    sealed_sha256: str
    device_id: str
    session_buyer_id: str | None
    captured_at: datetime
    sealed_at: datetime


@dataclass(frozen=True)
class RecoveredCopy:
    """A submitted file without Content Credentials, traced by its perceptual hash to sealed
    evidence we hold (issue 19 §1). The facts around it are the sealed original's."""

    #: The submitted file as received (its own bytes, not the original's).
    submitted_sha256: str
    submitted_filename: str
    #: The sealed original's ledger row, and how far its hash is from the copy's (bits).
    original: LedgerEvidence
    distance: int
    #: The lookup read its candidate bound: a nearer original may exist unread.
    truncated: bool = False


@dataclass(frozen=True)
class EvidenceFacts:
    """Everything known about one attached file, parsed before any check runs."""

    filename: str
    content_sha256: str
    media_type: str | None
    report: ReaderReport | None
    read_error: ReasonCode | None = None
    read_error_detail: str = ""
    assertion: CaptureAssertion | None = None
    #: The ledger row whose sealed bytes are exactly this file (found by its SHA-256).
    ledger_record: LedgerEvidence | None = None
    #: The ledger row the active manifest's id names, when its sealed bytes differ.
    altered_record: LedgerEvidence | None = None
    shipment_records: Mapping[str, LedgerEvidence] = field(default_factory=dict)
    other_disputes: tuple[str, ...] = ()
    similar_disputes: tuple[str, ...] = ()
    #: Order id of each dispute in ``other_disputes`` and ``similar_disputes``.
    dispute_orders: Mapping[str, str] = field(default_factory=dict)
    #: SHA-256 (hex, of the DER) of every OrderSeal sealing certificate, current and retired.
    sealing_fingerprints: frozenset[str] = frozenset()
    revoked_devices: Mapping[str, datetime] = field(default_factory=dict)
    #: Revoked sealing certificates: decimal serial (c2pa's ``cert_serial_number``) -> time.
    revoked_service_certificates: Mapping[str, datetime] = field(default_factory=dict)
    #: Set when the submitted file had no manifest and was traced to a sealed original: every
    #: other field then describes that original (so the checks judge what we sealed).
    recovered: RecoveredCopy | None = None
    #: How much the submitted photo looks like a photographed screen
    #: (``evidence.recapture``); None for a video or an undecodable file.
    recapture_score: float | None = None

    @property
    def sealed_by_orderseal(self) -> bool:
        """The active manifest is signed by one of our sealing certificates (by its DER)."""
        if self.report is None:
            return False
        return self.report.active_manifest.signer_fingerprint in self.sealing_fingerprints


@dataclass(frozen=True)
class DisputeContext:
    """The claim the evidence is checked against, with the claimant's history."""

    order_id: str
    buyer_id: str | None
    order: OrderFacts | None
    now: datetime
    receipt_window_days: int = 30
    claim_type: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    prior_refunds_for_order: int = 0
    prior_disputes_for_buyer: int = 0
    #: Other disputes of this buyer in the buyer window whose verdict points to the buyer.
    prior_swaps_for_buyer: int = 0
    #: Decided disputes on the order's merchant's orders in the merchant window (this one left
    #: out), and how many of them point to the merchant (the wrong item shipped).
    merchant_disputes: int = 0
    merchant_wrong_items: int = 0
    #: The policy routes a suspected recapture (a photographed screen) to review.
    recapture_review: bool = False
