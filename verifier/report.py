"""Agent report: shipment and receipt media side by side, the chain as a timeline, every check
with its explanation, the policy trace and the decision history.

The page renders the same ``VerdictOut`` models the API answers (agent view: with the details
that name other disputes and accounts).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from evidence.thumbnails import make_thumbnail
from infra.ledger.models import Dispute, Evidence
from verifier.disputes import DisputeService
from verifier.schemas import VerdictOut

__all__ = ["AgentReport", "ReportMedia", "ReportService", "TimelineEntry", "render_report_html"]


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("verifier", "templates"),
        autoescape=select_autoescape(["html"]),
    )


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

    @classmethod
    def build(
        cls, dispute: Dispute, history: list[VerdictOut], media: list[ReportMedia]
    ) -> AgentReport:
        """The report of ``dispute``, its verdicts (oldest first) and its order's media."""
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
                    TimelineEntry(v.decided_at, f"decided {v.decision}", "OrderSeal verifier", "")
                    for v in history
                ),
            ],
            key=lambda item: item.at,
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
        )


def render_report_html(report: AgentReport) -> str:
    """Render the readable report agents work from."""
    return _environment().get_template("report.html").render(report=report)


class ReportService:
    """Builds the agent report of a dispute (thumbnails cached under ``thumbnail_dir``)."""

    def __init__(self, *, disputes: DisputeService, thumbnail_dir: Path) -> None:
        self.disputes = disputes
        self.thumbnail_dir = thumbnail_dir

    def report(self, dispute_id: str) -> AgentReport:
        """The dispute, every verdict and the order's sealed media with inline thumbnails.

        Raises:
            NotFoundError: ``dispute_not_found``.
        """
        dispute = self.disputes.dispute(dispute_id)
        media = [
            replace(ReportMedia.from_row(row), thumbnail_url=self._thumbnail(row))
            for row in self.disputes.ledger.evidence_for_order(dispute.order_id)
        ]
        return AgentReport.build(dispute, self.disputes.history(dispute_id), media)

    def _thumbnail(self, row: Evidence) -> str:
        cache = self.thumbnail_dir / f"{row.sealed_sha256}.jpg"
        with self.disputes.store.open_local(row.storage_key) as path:
            data = make_thumbnail(path, row.media_type, cache)
        return "" if data is None else "data:image/jpeg;base64," + base64.b64encode(data).decode()
