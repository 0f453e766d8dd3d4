"""The reason-code set is a public contract pinned against docs/reason-codes.md."""

from __future__ import annotations

import re

from tests.support.paths import repo_root
from verifier.policy import DEFAULT_POLICY
from verifier.reasons import ReasonCode

PINNED = [
    "no_manifest",
    "signature_invalid",
    "content_tampered",
    "untrusted_signer",
    "signer_revoked",
    "ai_generated_declared",
    "order_mismatch",
    "order_unknown",
    "buyer_mismatch",
    "wrong_stage",
    "chain_broken",
    "evidence_reused",
    "capture_outside_window",
    "edited_after_capture",
    "policy_review",
    "unsupported_media",
    "corrupt_media",
    "check_crashed",
    "no_evidence",
    "serial_mismatch",
    "not_as_sealed",
    "merchant_wrong_item_rate",
    "manifest_recovered",
    "label_not_in_capture",
    "capture_discontinuous",
    "label_typed",
    "recapture_suspected",
]


def test_codes_are_append_only() -> None:
    values = [code.value for code in ReasonCode]
    assert values[: len(PINNED)] == PINNED


def test_every_code_is_documented_with_its_default_decision() -> None:
    doc = (repo_root() / "docs" / "reason-codes.md").read_text()
    rows = dict(re.findall(r"^\| `([a-z_]+)` \|[^|]*\| (block|review) \|", doc, flags=re.MULTILINE))
    assert set(rows) == {code.value for code in ReasonCode}
    for code in ReasonCode:
        assert rows[code.value] == DEFAULT_POLICY.decision_for(code).value, code
