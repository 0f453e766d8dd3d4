"""What the file's own Content Credentials declare: AI generation, edits after our seal."""

from __future__ import annotations

from evidence.manifest import AI_SOURCE_TYPES, ASSERTION_LABEL
from verifier.models import CheckResult, DisputeContext, EvidenceFacts
from verifier.reasons import ReasonCode

__all__ = ["check_ai_declared", "check_edited_after_capture"]

_EDIT_ACTIONS = frozenset(
    {
        "c2pa.edited",
        "c2pa.cropped",
        "c2pa.color_adjustments",
        "c2pa.filtered",
        "c2pa.drawing",
        "c2pa.resized",
        "c2pa.transcoded",
        "c2pa.converted",
    }
)


def check_ai_declared(facts: EvidenceFacts, ctx: DisputeContext) -> list[CheckResult]:
    """Any manifest in the file's history declaring generative-AI content."""
    if facts.report is None:
        return []
    declared = sorted(
        {
            source.rsplit("/", 1)[-1]
            for manifest in facts.report.manifests.values()
            for source in manifest.digital_source_types
            if source.rsplit("/", 1)[-1] in AI_SOURCE_TYPES
        }
    )
    return [
        CheckResult(
            "ai_declared",
            ReasonCode.AI_GENERATED_DECLARED,
            not declared,
            f"the file's Content Credentials declare {', '.join(declared)}"
            if declared
            else "no generative-AI source declared",
        )
    ]


def check_edited_after_capture(facts: EvidenceFacts, ctx: DisputeContext) -> list[CheckResult]:
    """Our seal must be the active manifest; a later manifest over it means an edit."""
    if facts.report is None:
        return []
    active = facts.report.active_manifest
    ours_inside = any(
        ASSERTION_LABEL in manifest.assertions
        for label, manifest in facts.report.manifests.items()
        if label != active.label
    )
    edited_actions = sorted(set(active.action_names) & _EDIT_ACTIONS)
    edited = (ASSERTION_LABEL not in active.assertions and ours_inside) or (
        ASSERTION_LABEL in active.assertions and bool(edited_actions)
    )
    return [
        CheckResult(
            "edited_after_capture",
            ReasonCode.EDITED_AFTER_CAPTURE,
            not edited,
            "an OrderSeal capture was edited and re-signed by another tool"
            if edited
            else "no edit after capture",
        )
    ]
