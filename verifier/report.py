"""Agent report: the dispute, every file with every check, and the verdict history."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from infra.ledger.models import Dispute

__all__ = ["render_report_html", "report_json"]


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("verifier", "templates"),
        autoescape=select_autoescape(["html"]),
    )


def report_json(dispute: Dispute, history: list[dict[str, Any]]) -> dict[str, Any]:
    """The report as data: dispute fields, current verdict and its history."""
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
    }


def render_report_html(dispute: Dispute, history: list[dict[str, Any]]) -> str:
    """Render the readable report agents work from."""
    template = _environment().get_template("report.html")
    return template.render(report=report_json(dispute, history))
