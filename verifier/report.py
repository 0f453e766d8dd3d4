"""Agent report: the files the buyer submitted beside the order's sealed shipment and receipt
media, the chain as a timeline, every check in plain words (its internal name and reason code one
click away), the policy trace and the decision history.

The page renders the same ``VerdictOut`` models the API answers (agent view: with the details
that name other disputes and accounts). People read the sentences of ``verifier.wording``, never
a check's ``detail`` as the message (a detail may quote c2pa status codes). Every time is shown
one way, ``2026-12-02 07:41 UTC``.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from evidence.recapture import RECAPTURE_THRESHOLD
from evidence.thumbnails import make_thumbnail
from infra.ledger.models import Dispute, DisputeEvidence, Evidence, MerchantResponse
from verifier.disputes import DisputeService
from verifier.schemas import HistoryEntryOut, VerdictOut
from verifier.wording import plain_check, plain_rule, reason_sentence

__all__ = [
    "AgentReport",
    "ReportMedia",
    "ReportService",
    "SellerAnswer",
    "SubmittedFile",
    "TimelineEntry",
    "render_report_html",
    "shown_time",
]


def shown_time(at: datetime | str | None) -> str:
    """A time as the report shows it: UTC to the minute, ``2026-12-02 07:41 UTC`` ("—" if none).

    Accepts an aware datetime or the ledger's text (``+00:00`` or ``Z``); a naive value is UTC.
    """
    if at is None or at == "":
        return "—"
    value = datetime.fromisoformat(at) if isinstance(at, str) else at
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


@lru_cache(maxsize=1)
def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("verifier", "templates"),
        autoescape=select_autoescape(["html"]),
    )
    environment.filters["when"] = shown_time
    environment.globals.update(
        plain_check=plain_check,
        plain_rule=plain_rule,
        reason_sentence=reason_sentence,
        recapture_threshold=RECAPTURE_THRESHOLD,
    )
    return environment


@dataclass(frozen=True)
class ReportMedia:
    """One sealed capture of the order, as the report shows it."""

    evidence_id: str
    stage: str
    title: str
    media_type: str
    device_id: str
    captured_at: str
    sealed_at: str
    manifest_id: str
    #: An inline ``data:`` URI, so the page needs no further authenticated request ("" if none).
    thumbnail_url: str = ""

    @classmethod
    def from_row(cls, row: Evidence, *, thumbnail_url: str = "") -> ReportMedia:
        """The ledger's evidence row."""
        return cls(
            evidence_id=row.evidence_id,
            stage=row.stage,
            title=row.title,
            media_type=row.media_type,
            device_id=row.device_id,
            captured_at=row.captured_at.isoformat(),
            sealed_at=row.sealed_at.isoformat(),
            manifest_id=row.manifest_id,
            thumbnail_url=thumbnail_url,
        )


@dataclass(frozen=True)
class SubmittedFile:
    """A file attached to the dispute, as the platform submitted it for the buyer."""

    filename: str
    media_type: str
    content_sha256: str
    size: int
    attached_at: str
    #: Set when the file carries a manifest (its OrderSeal seal, if any, is checked below).
    manifest_id: str
    #: An inline ``data:`` URI like the sealed media's ("" if the file has no picture).
    thumbnail_url: str = ""

    @classmethod
    def from_row(cls, row: DisputeEvidence, *, thumbnail_url: str = "") -> SubmittedFile:
        """The ledger's attachment row."""
        return cls(
            filename=row.filename,
            media_type=row.media_type or "",
            content_sha256=row.content_sha256,
            size=row.size,
            attached_at=row.attached_at.isoformat(),
            manifest_id=row.manifest_id or "",
            thumbnail_url=thumbnail_url,
        )


@dataclass(frozen=True)
class SellerAnswer:
    """The merchant's answer to the dispute: its statement and the sealed evidence it names."""

    merchant_id: str
    statement: str
    evidence_ids: tuple[str, ...]
    created_at: str

    @classmethod
    def from_row(cls, row: MerchantResponse) -> SellerAnswer:
        """The ledger's merchant response row."""
        return cls(
            merchant_id=row.merchant_id,
            statement=row.statement,
            evidence_ids=tuple(str(e) for e in row.evidence_ids or ()),
            created_at=row.created_at.isoformat(),
        )


@dataclass(frozen=True)
class TimelineEntry:
    """Something that happened to the order or the dispute."""

    at: str
    what: str
    who: str
    ref: str


@dataclass(frozen=True)
class AgentReport:
    """What the report page shows: the dispute, its verdicts and the order's media."""

    dispute_id: str
    order_id: str
    buyer_id: str
    claim_type: str
    amount: str
    currency: str
    decision: str | None
    verdict: VerdictOut | None
    history: tuple[VerdictOut, ...]
    shipment_media: tuple[ReportMedia, ...]
    receipt_media: tuple[ReportMedia, ...]
    timeline: tuple[TimelineEntry, ...]
    #: What was attached to the dispute, which is not always the order's sealed originals.
    submitted: tuple[SubmittedFile, ...] = ()
    #: The seller's answers, oldest first.
    answers: tuple[SellerAnswer, ...] = ()

    @classmethod
    def build(
        cls,
        dispute: Dispute,
        history: list[VerdictOut],
        media: list[ReportMedia],
        submitted: list[SubmittedFile] | None = None,
        answers: list[SellerAnswer] | None = None,
    ) -> AgentReport:
        """The report of ``dispute``: its verdicts (oldest first), its order's media and the
        files attached to it."""
        shipment = tuple(m for m in media if m.stage == "shipment")
        receipt = tuple(m for m in media if m.stage == "receipt")
        timeline = sorted(
            [
                *(
                    TimelineEntry(m.sealed_at, f"{m.stage} capture sealed", m.device_id, m.title)
                    for m in (*shipment, *receipt)
                ),
                TimelineEntry(
                    dispute.created_at.isoformat(),
                    "dispute filed",
                    dispute.buyer_id,
                    dispute.claim_type,
                ),
                *(
                    TimelineEntry(f.attached_at, "file submitted", "platform", f.filename)
                    for f in submitted or ()
                ),
                *(
                    TimelineEntry(a.created_at, "seller answered", a.merchant_id, "")
                    for a in answers or ()
                ),
                *(_decided(v) for v in history),
            ],
            key=lambda item: _instant(item.at),
        )
        return cls(
            dispute_id=dispute.dispute_id,
            order_id=dispute.order_id,
            buyer_id=dispute.buyer_id,
            claim_type=dispute.claim_type,
            amount=dispute.amount,
            currency=dispute.currency,
            decision=dispute.decision,
            verdict=history[-1] if history else None,
            history=tuple(history),
            shipment_media=shipment,
            receipt_media=receipt,
            timeline=tuple(timeline),
            submitted=tuple(submitted or ()),
            answers=tuple(answers or ()),
        )


#: A page shows at most this many seller answers (the merchant API bounds them too).
_MAX_ANSWERS = 50

#: How the report names an agent's action (the agent and the note stay in the agents' views:
#: a report link is read by the platform's back office too).
_AGENT_ACTIONS = {
    "approve": "approved by an agent",
    "deny": "denied by an agent",
    "request_evidence": "more evidence requested by an agent",
}


def _decided(verdict: VerdictOut) -> TimelineEntry:
    ref = verdict.agent_decision if isinstance(verdict, HistoryEntryOut) else None
    if ref is not None:
        what = f"{_AGENT_ACTIONS.get(ref.action, 'decided by an agent')}: {verdict.decision}"
        return TimelineEntry(verdict.decided_at, what, "agent", "")
    return TimelineEntry(
        verdict.decided_at, f"decided {verdict.decision}", "OrderSeal verifier", ""
    )


def _instant(at: str) -> datetime:
    # Ledger text comes as ``+00:00`` or ``Z`` and SQLite drops the zone: order by instant.
    value = datetime.fromisoformat(at)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def render_report_html(report: AgentReport) -> str:
    """Render the readable report agents work from."""
    return _environment().get_template("report.html").render(report=report)


class ReportService:
    """Builds the agent report of a dispute (thumbnails cached under ``thumbnail_dir``)."""

    def __init__(self, *, disputes: DisputeService, thumbnail_dir: Path) -> None:
        self.disputes = disputes
        self.thumbnail_dir = thumbnail_dir

    def report(self, dispute_id: str) -> AgentReport:
        """The dispute, every verdict, the order's sealed media and the files attached to the
        dispute, with inline thumbnails.

        Raises:
            NotFoundError: ``dispute_not_found``.
        """
        dispute = self.disputes.dispute(dispute_id)
        media = [
            replace(
                ReportMedia.from_row(row),
                thumbnail_url=self._thumbnail(row.storage_key, row.media_type, row.sealed_sha256),
            )
            for row in self.disputes.ledger.evidence_for_order(dispute.order_id)
        ]
        submitted = [
            SubmittedFile.from_row(
                row,
                thumbnail_url=self._thumbnail(
                    row.storage_key, row.media_type or "", row.content_sha256
                ),
            )
            for row in self.disputes.ledger.attachments(dispute_id)
        ]
        history: list[VerdictOut] = list(self.disputes.history_entries(dispute_id))
        answers = [
            SellerAnswer.from_row(row)
            for row in self.disputes.ledger.merchant_responses(dispute_id)[:_MAX_ANSWERS]
        ]
        return AgentReport.build(dispute, history, media, submitted, answers)

    def _thumbnail(self, storage_key: str, media_type: str, sha256: str) -> str:
        if not media_type.startswith(("image/", "video/")):
            return ""  # an unsupported upload has no picture to show
        cache = self.thumbnail_dir / f"{sha256}.jpg"
        with self.disputes.store.open_local(storage_key) as path:
            data = make_thumbnail(path, media_type, cache)
        return "" if data is None else "data:image/jpeg;base64," + base64.b64encode(data).decode()
