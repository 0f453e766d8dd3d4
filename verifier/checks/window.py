"""Capture window: receipt captured after shipment and within the window after delivery."""

from __future__ import annotations

from datetime import datetime, timedelta

from evidence.manifest import Stage
from verifier.models import CheckResult, DisputeContext, EvidenceFacts
from verifier.reasons import ReasonCode

__all__ = ["check_window"]


def check_window(facts: EvidenceFacts, ctx: DisputeContext) -> list[CheckResult]:
    """The device and service clocks both put the receipt capture inside the window."""
    assertion = facts.assertion
    if assertion is None or assertion.stage != Stage.RECEIPT or not facts.shipment_records:
        return []
    try:
        captured = datetime.fromisoformat(assertion.captured_at)
        received = datetime.fromisoformat(assertion.received_at)
    except ValueError:
        return [
            CheckResult(
                "window", ReasonCode.CAPTURE_OUTSIDE_WINDOW, False, "capture time unreadable"
            )
        ]
    opens = min(r.sealed_at for r in facts.shipment_records.values())
    anchor = ctx.order.expected_delivery if ctx.order and ctx.order.expected_delivery else opens
    closes = max(anchor, opens) + timedelta(days=ctx.receipt_window_days)
    inside = all(opens <= moment <= closes for moment in (captured, received))
    return [
        CheckResult(
            "window",
            ReasonCode.CAPTURE_OUTSIDE_WINDOW,
            inside,
            f"captured {captured.isoformat()} within {opens.isoformat()} .. {closes.isoformat()}"
            if inside
            else f"captured {captured.isoformat()} outside {opens.isoformat()} .. "
            f"{closes.isoformat()}",
        )
    ]
