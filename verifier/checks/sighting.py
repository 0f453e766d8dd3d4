"""The parcel in the shot: a sealed receipt video showed its own label, on a continuous timeline.

The sealer sampled the video's frames for the session's own label QR and checked its frame
timestamps (``capture/label_sighting.py``), sealing the result as the assertion's
``label_sighting``. This check reads what was sealed; it decodes nothing.

Adversary: a pre-recorded or generated video fed through a virtual camera (no label, or
another parcel's label, in view), or one spliced from two takes (a timestamp jump).
"""

from __future__ import annotations

from evidence.manifest import Stage
from evidence.sighting import LabelSighting
from verifier.models import CheckResult, DisputeContext, EvidenceFacts
from verifier.reasons import ReasonCode

__all__ = ["check_label_sighting"]


def check_label_sighting(facts: EvidenceFacts, ctx: DisputeContext) -> list[CheckResult]:
    """A receipt video's sealed sighting: its label seen (``label_not_in_capture``) and its
    timeline continuous (``capture_discontinuous``).

    Runs only on receipts whose seal carries a sighting: photos, shipment captures and receipt
    videos sealed before the sighting existed have none (nothing to weigh).
    """
    assertion = facts.assertion
    if assertion is None or assertion.stage != Stage.RECEIPT:
        return []
    sighting = assertion.label_sighting
    if sighting is None:
        return []
    return [
        CheckResult(
            "label_in_capture", ReasonCode.LABEL_NOT_IN_CAPTURE, sighting.seen, _seen(sighting)
        ),
        CheckResult(
            "continuity",
            ReasonCode.CAPTURE_DISCONTINUOUS,
            sighting.continuity.ok,
            _continuity(sighting),
        ),
    ]


def _seen(sighting: LabelSighting) -> str:
    if sighting.seen:
        return (
            f"the parcel's own label was in view from {sighting.first_seen_ms} ms, "
            f"for about {sighting.seen_ms} ms ({sighting.frames_sampled} frames sampled)"
        )
    others = (
        f"; {sighting.other_labels} sampled frames showed another QR code or label"
        if sighting.other_labels
        else ""
    )
    partial = "" if sighting.complete else " (sampling stopped at its budget)"
    return (
        f"the parcel's own label was in none of {sighting.frames_sampled} sampled frames"
        f"{partial}{others}"
    )


def _continuity(sighting: LabelSighting) -> str:
    c = sighting.continuity
    if c.ok:
        return f"{c.frames} frames over {c.duration_ms} ms, largest step {c.max_gap_ms} ms"
    found = []
    if not c.monotonic:
        found.append("timestamps go backwards")
    if c.max_gap_ms > c.gap_bound_ms:
        found.append(f"a {c.max_gap_ms} ms jump (bound {c.gap_bound_ms} ms)")
    if not c.rate_consistent:
        found.append("the frame rate does not match the recording's timeline")
    if not found:
        found.append(f"{c.frames} frames cannot form a timeline")
    return "the recording's timeline is broken: " + ", ".join(found)
