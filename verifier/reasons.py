"""Reason codes: the public, stable vocabulary of verdicts (see docs/reason-codes.md).

Codes are never renamed or reused; new ones are appended. A test pins the full set.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ReasonCode"]


class ReasonCode(StrEnum):
    """Why a piece of evidence (or a dispute) got its decision."""

    NO_MANIFEST = "no_manifest"
    SIGNATURE_INVALID = "signature_invalid"
    CONTENT_TAMPERED = "content_tampered"
    UNTRUSTED_SIGNER = "untrusted_signer"
    SIGNER_REVOKED = "signer_revoked"
    AI_GENERATED_DECLARED = "ai_generated_declared"
    ORDER_MISMATCH = "order_mismatch"
    ORDER_UNKNOWN = "order_unknown"
    BUYER_MISMATCH = "buyer_mismatch"
    WRONG_STAGE = "wrong_stage"
    CHAIN_BROKEN = "chain_broken"
    EVIDENCE_REUSED = "evidence_reused"
    CAPTURE_OUTSIDE_WINDOW = "capture_outside_window"
    EDITED_AFTER_CAPTURE = "edited_after_capture"
    POLICY_REVIEW = "policy_review"
    UNSUPPORTED_MEDIA = "unsupported_media"
    CORRUPT_MEDIA = "corrupt_media"
    CHECK_CRASHED = "check_crashed"
    NO_EVIDENCE = "no_evidence"
    SERIAL_MISMATCH = "serial_mismatch"
    NOT_AS_SEALED = "not_as_sealed"
    MERCHANT_WRONG_ITEM_RATE = "merchant_wrong_item_rate"
    MANIFEST_RECOVERED = "manifest_recovered"
    LABEL_NOT_IN_CAPTURE = "label_not_in_capture"
    CAPTURE_DISCONTINUOUS = "capture_discontinuous"
    LABEL_TYPED = "label_typed"
    RECAPTURE_SUSPECTED = "recapture_suspected"
