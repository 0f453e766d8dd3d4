"""Plain words for people: every check, reason code and policy rule, and how times are shown.

The agent workspace and the HTML report show these sentences instead of internal names
(``capture_buyer``) or the reader's status codes (``assertion.dataHash.mismatch``). The human
text is chosen from the check's name, its outcome and its reason code only, never copied from a
check's ``detail``: a detail may quote c2pa, so it stays available as data (the code, the
technical detail), not as the message. ``tests/unit/verifier/test_wording.py`` checks that every
check name the checks emit, every reason code and every policy rule has its wording.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from verifier.reasons import ReasonCode
from verifier.schemas import CheckOut, RuleTraceOut

__all__ = [
    "CHECK_LABELS",
    "REASON_SENTENCES",
    "RULE_LABELS",
    "PlainCheck",
    "PlainRule",
    "check_label",
    "plain_check",
    "plain_rule",
    "reason_sentence",
    "rule_label",
    "utc_text",
]

#: What each check establishes when it passes, said as a fact about the file.
CHECK_LABELS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "readable": "The file could be read and carries Content Credentials",
        "signature": "The file's digital signature is intact",
        "binding": "The picture or video is exactly what was signed, not changed afterwards",
        "manifest_store": "The file's Content Credentials are complete and well-formed",
        "trust": "The file was sealed by the OrderSeal capture service",
        "identity": "The file is byte for byte the one OrderSeal sealed",
        "ai_declared": "The file does not declare itself as AI-generated",
        "edited_after_capture": "The file was not edited after it was captured",
        "revocation": "The capturing device was in good standing when the file was sealed",
        "order_known": "The order is registered with OrderSeal",
        "order_match": "The file was sealed for this order",
        "buyer_match": "The person claiming is the order's buyer",
        "capture_buyer": "Unboxing video was recorded with the buyer's enrolled app",
        "stage": "The file was recorded when the parcel was received, not when it was packed",
        "chain": "The receipt recording links to this order's sealed packing recording",
        "window": "The recording was made in the expected delivery window",
        "reuse": "The file was not already used on another order's dispute",
        "serial": "The item serial numbers seen match the ones shipped",
        "recovered": "The file carries its own Content Credentials (not a copy traced to a "
        "sealed original)",
        # A check that crashed is reported under its function's name (verifier.engine._run).
        "check_integrity": "The file's signature and seal could be checked",
        "check_identity": "The file could be compared with the sealed original",
        "check_ai_declared": "The file's AI declarations could be read",
        "check_edited_after_capture": "The file's edit history could be read",
        "check_revocation": "The capturing device's standing could be checked",
        "check_order": "The file's order could be checked",
        "check_buyer": "The buyer could be checked",
        "check_stage": "The recording stage could be checked",
        "check_chain": "The link to the packing recording could be checked",
        "check_window": "The recording time could be checked",
        "check_reuse": "Earlier use of the file could be checked",
        "check_serial": "The item serial numbers could be checked",
        "check_recovered": "The file's sealed original could be looked up",
        "label_in_capture": "The parcel's own label was in view in the receipt video",
        "continuity": "The receipt video was recorded in one continuous take",
        "check_label_sighting": "The receipt video's label and timeline could be checked",
        "label_entry": "The buyer's page scanned the parcel label (it did not type the code)",
        "check_label_entry": "How the parcel label reached the page could be read",
        "recapture": "The photo does not look like a picture of a screen (advice only)",
        "check_recapture": "The photo could be checked for a photographed screen",
    }
)

#: What each reason code means when a check fails, in one sentence a person understands.
REASON_SENTENCES: Final[Mapping[ReasonCode, str]] = MappingProxyType(
    {
        ReasonCode.NO_MANIFEST: "The file carries no Content Credentials, so nothing proves "
        "where or when it was recorded.",
        ReasonCode.SIGNATURE_INVALID: "The file's digital signature does not verify.",
        ReasonCode.CONTENT_TAMPERED: "The picture or video was changed after it was signed.",
        ReasonCode.UNTRUSTED_SIGNER: "The file was not sealed by the OrderSeal capture service.",
        ReasonCode.SIGNER_REVOKED: "The certificate that sealed the file, or the capturing "
        "device, was revoked.",
        ReasonCode.AI_GENERATED_DECLARED: "The file's own Content Credentials say it was made "
        "with generative AI.",
        ReasonCode.ORDER_MISMATCH: "The file was sealed for a different order.",
        ReasonCode.ORDER_UNKNOWN: "The order is not registered with OrderSeal.",
        ReasonCode.BUYER_MISMATCH: "The file was not recorded by this order's buyer, or the "
        "person claiming is not the buyer.",
        ReasonCode.WRONG_STAGE: "The file shows the parcel being packed, not being received.",
        ReasonCode.CHAIN_BROKEN: "The receipt recording does not link to this order's sealed "
        "packing recording.",
        ReasonCode.MANIFEST_RECOVERED: "The file had lost its Content Credentials (a "
        "screenshot or a re-sent copy); it was traced to the sealed original OrderSeal holds, "
        "and the claim was judged on that original.",
        ReasonCode.EVIDENCE_REUSED: "The same file, or a near copy of it, was already attached "
        "to another order's dispute.",
        ReasonCode.CAPTURE_OUTSIDE_WINDOW: "The recording was made outside the expected "
        "delivery window.",
        ReasonCode.EDITED_AFTER_CAPTURE: "The file was edited and signed again after it was "
        "captured.",
        ReasonCode.POLICY_REVIEW: "The platform's policy asks a person to look at this claim.",
        ReasonCode.UNSUPPORTED_MEDIA: "The file is not a photo or video format that can be "
        "checked.",
        ReasonCode.CORRUPT_MEDIA: "The file or its Content Credentials are damaged or malformed.",
        ReasonCode.CHECK_CRASHED: "An automatic check could not run on this file, so a person "
        "must look.",
        ReasonCode.NO_EVIDENCE: "No file was attached to the claim.",
        ReasonCode.SERIAL_MISMATCH: "The item serial numbers seen do not match the ones shipped.",
        ReasonCode.NOT_AS_SEALED: "The file was changed after OrderSeal sealed it.",
        ReasonCode.MERCHANT_WRONG_ITEM_RATE: "The seller's recent disputes show many wrong "
        "items shipped, so a person must look.",
        ReasonCode.LABEL_NOT_IN_CAPTURE: "The parcel's own label was never in view in the "
        "receipt video, so nothing shows this parcel was in front of the camera.",
        ReasonCode.CAPTURE_DISCONTINUOUS: "The receipt video's timeline jumps or is uneven, as "
        "when two recordings are joined.",
        ReasonCode.LABEL_TYPED: "The buyer typed or pasted the label code instead of scanning "
        "the parcel's label, so nothing shows the parcel was in hand when the capture opened.",
        ReasonCode.RECAPTURE_SUSPECTED: "The photo looks like a picture of a screen rather "
        "than of the parcel itself.",
    }
)

#: What each dispute-level policy rule looks at (verifier.rules).
RULE_LABELS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "value_threshold": "Claims above a set value go to a person",
        "video_required": "This kind of claim needs a sealed unboxing video",
        "min_photos": "The claim needs a minimum number of sealed photos",
        "refunds_per_order": "Limit on refunds for one order",
        "disputes_per_buyer": "Limit on disputes by one buyer in a period",
        "swaps_per_buyer": "Limit on swapped units claimed by one buyer in a period",
        "merchant_wrong_item_rate": "Sellers shipping many wrong items get their claims reviewed",
    }
)

_UNKNOWN_CHECK = "An automatic check of the file"
_UNKNOWN_RULE = "A policy rule"


class PlainCheck(BaseModel):
    """One check in plain words: ``code`` (the stable reason code) only when it failed."""

    model_config = ConfigDict(frozen=True)

    check: str
    label: str
    passed: bool
    explanation: str
    code: ReasonCode | None = Field(default=None, exclude_if=lambda value: value is None)


class PlainRule(BaseModel):
    """One policy rule of the trace in plain words (``detail`` is the engine's own figures)."""

    model_config = ConfigDict(frozen=True)

    rule: str
    label: str
    fired: bool
    detail: str


def check_label(check: str) -> str:
    """The plain statement of what ``check`` establishes (a generic one for a name we lack)."""
    return CHECK_LABELS.get(check, _UNKNOWN_CHECK)


def reason_sentence(code: ReasonCode | str) -> str:
    """The plain sentence of a reason code; an unknown code gets a fail-closed sentence."""
    try:
        return REASON_SENTENCES[ReasonCode(code)]
    except ValueError:
        return "The file did not pass an automatic check, so a person must look."


def rule_label(rule: str) -> str:
    """The plain name of a dispute-level policy rule."""
    return RULE_LABELS.get(rule, _UNKNOWN_RULE)


def plain_check(check: CheckOut) -> PlainCheck:
    """A check of a verdict in plain words: the label, and why it failed when it did."""
    label = check_label(check.check)
    if check.passed or check.code is None:
        return PlainCheck(check=check.check, label=label, passed=True, explanation=label + ".")
    return PlainCheck(
        check=check.check,
        label=label,
        passed=False,
        explanation=reason_sentence(check.code),
        code=check.code,
    )


def plain_rule(trace: RuleTraceOut) -> PlainRule:
    """A rule of the policy trace with its plain name."""
    return PlainRule(
        rule=trace.rule, label=rule_label(trace.rule), fired=trace.fired, detail=trace.detail
    )


def utc_text(at: datetime | str) -> str:
    """A time as people and pages get it: UTC ISO-8601, whole seconds, ending in ``Z``.

    Accepts an aware datetime or the ledger's stored text (``isoformat()``, ``+00:00``); a naive
    value is read as UTC (SQLite hands those back).
    """
    value = datetime.fromisoformat(at) if isinstance(at, str) else at
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
