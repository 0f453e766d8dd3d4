"""Agent report: shipment and receipt media side by side, the chain as a timeline, every check
with its explanation, the policy trace and the decision history."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from infra.ledger.models import Dispute, Evidence

__all__ = ["render_report_html", "report_json"]


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("verifier", "templates"),
        autoescape=select_autoescape(["html"]),
    )


def _media(row: Evidence) -> dict[str, Any]:
    return {
        "evidence_id": row.evidence_id,
        "stage": row.stage,
        "title": row.title,
        "media_type": row.media_type,
        "device_id": row.device_id,
        "captured_at": row.captured_at.isoformat(),
        "sealed_at": row.sealed_at.isoformat(),
        "manifest_id": row.manifest_id,
        "thumbnail_url": f"/v1/evidence/{row.evidence_id}/thumbnail.jpg",
    }


def report_json(
    dispute: Dispute, history: list[dict[str, Any]], order_evidence: list[Evidence]
) -> dict[str, Any]:
    """The report as data: dispute, current verdict, media of both stages, timeline, history."""
    shipment = [_media(row) for row in order_evidence if row.stage == "shipment"]
    receipt = [_media(row) for row in order_evidence if row.stage == "receipt"]
    timeline = sorted(
        [
            *(
                {
                    "at": m["sealed_at"],
                    "what": f"{m['stage']} capture sealed",
                    "who": m["device_id"],
                    "ref": m["title"],
                }
                for m in shipment + receipt
            ),
            {
                "at": dispute.created_at.isoformat(),
                "what": "dispute filed",
                "who": dispute.buyer_id,
                "ref": dispute.claim_type,
            },
            *(
                {
                    "at": v["decided_at"],
                    "what": f"decided {v['decision']}",
                    "who": "OrderSeal verifier",
                    "ref": "",
                }
                for v in history
            ),
        ],
        key=lambda item: str(item["at"]),
    )
    return {
        "dispute_id": dispute.dispute_id,
        "order_id": dispute.order_id,
        "buyer_id": dispute.buyer_id,
        "claim_type": dispute.claim_type,
        "amount": dispute.amount,
        "currency": dispute.currency,
        "decision": dispute.decision,
        "verdict": history[-1] if history else None,
        "history": history,
        "shipment_media": shipment,
        "receipt_media": receipt,
        "timeline": timeline,
    }


def render_report_html(
    dispute: Dispute,
    history: list[dict[str, Any]],
    order_evidence: list[Evidence],
    thumbnails: dict[str, str],
) -> str:
    """Render the readable report agents work from.

    ``thumbnails`` maps evidence ids to inline ``data:`` URIs, so the page needs no further
    authenticated requests to show the media.
    """
    report = report_json(dispute, history, order_evidence)
    for media in (*report["shipment_media"], *report["receipt_media"]):
        media["thumbnail_url"] = thumbnails.get(media["evidence_id"], "")
    return _environment().get_template("report.html").render(report=report)
