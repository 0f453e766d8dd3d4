"""Frozen facts the checks receive, and the typed results they return."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from evidence.manifest import CaptureAssertion
from evidence.reader import ReaderReport
from verifier.reasons import ReasonCode

__all__ = [
    "CheckResult",
    "Decision",
    "DisputeContext",
    "EvidenceFacts",
    "EvidenceVerdict",
    "LedgerEvidence",
    "OrderFacts",
    "Reason",
    "RuleResult",
    "Verdict",
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


@dataclass(frozen=True)
class OrderFacts:
    """The ledger's order, as the checks need it."""

    order_id: str
    buyer_id: str
    created_at: datetime
    expected_delivery: datetime | None


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


@dataclass(frozen=True)
class RuleResult:
    """One dispute-level policy rule: whether it fired and why."""

    rule: str
    fired: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        """Serialise for the trace."""
        return {"rule": self.rule, "fired": self.fired, "detail": self.detail}


@dataclass(frozen=True)
class Reason:
    """A stable code with a message a person understands."""

    code: ReasonCode
    message: str

    def to_json(self) -> dict[str, str]:
        """Serialise for the API and CLI."""
        return {"code": self.code.value, "message": self.message}


@dataclass(frozen=True)
class EvidenceVerdict:
    """Decision for one attached file with every check that ran."""

    filename: str
    content_sha256: str
    decision: Decision
    reasons: tuple[Reason, ...]
    checks: tuple[CheckResult, ...]
    manifest_id: str | None
    stage: str | None
    evidence_id: str | None
    media_type: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Serialise for the API."""
        return {
            "filename": self.filename,
            "media_type": self.media_type,
            "content_sha256": self.content_sha256,
            "decision": self.decision.value,
            "reasons": [r.to_json() for r in self.reasons],
            "checks": [
                {
                    "check": c.check,
                    "code": c.code.value,
                    "passed": c.passed,
                    "detail": c.detail,
                    **({"agent_detail": c.agent_detail} if c.agent_detail else {}),
                }
                for c in self.checks
            ],
            "manifest_id": self.manifest_id,
            "stage": self.stage,
            "evidence_id": self.evidence_id,
        }


@dataclass(frozen=True)
class Verdict:
    """The decision over all evidence of a claim, with the policy trace.

    In dry-run mode ``decision`` is ``review`` (a person acts) and ``policy_decision`` keeps
    what the policy would have decided.
    """

    decision: Decision
    reasons: tuple[Reason, ...]
    evidence: tuple[EvidenceVerdict, ...]
    decided_at: datetime
    rules: tuple[RuleResult, ...] = ()
    policy_decision: Decision | None = None
    dry_run: bool = False

    def to_json(self) -> dict[str, Any]:
        """Serialise for the API, the CLI and the ledger."""
        return {
            "decision": self.decision.value,
            "reasons": [r.to_json() for r in self.reasons],
            "evidence": [e.to_json() for e in self.evidence],
            "decided_at": self.decided_at.isoformat(),
            "policy_trace": [r.to_json() for r in self.rules],
            "policy_decision": (self.policy_decision or self.decision).value,
            "dry_run": self.dry_run,
        }
