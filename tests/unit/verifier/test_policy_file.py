"""The policy TOML: defaults, validation errors that name the key, every setting applied."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from verifier.policy import DEFAULT_POLICY
from verifier.policy_file import PolicyFileError, default_policy, load_policy, parse_policy
from verifier.reasons import ReasonCode


def test_shipped_default_matches_the_built_in_code_mapping() -> None:
    shipped = default_policy()
    assert shipped.block == DEFAULT_POLICY.block
    assert shipped.review == DEFAULT_POLICY.review
    assert shipped.review_above["USD"] == Decimal("500.00")
    assert ReasonCode.NO_MANIFEST in shipped.review


def test_empty_file_takes_defaults() -> None:
    policy = parse_policy("")
    assert policy.block == DEFAULT_POLICY.block
    assert policy.dry_run is False


def test_every_setting_is_applied() -> None:
    policy = parse_policy(
        """
dry_run = true
[decisions]
block = ["content_tampered"]
review = ["no_manifest"]
[thresholds]
review_above = { JPY = "50000" }
[evidence]
video_required_for = ["spoiled"]
min_photos = 2
[window]
receipt_days_after_delivery = 7
[limits]
max_refunds_per_order = 2
max_disputes_per_buyer = 4
buyer_window_days = 90
"""
    )
    assert policy.dry_run is True
    assert policy.block == {ReasonCode.CONTENT_TAMPERED}
    assert policy.review_above == {"JPY": Decimal("50000")}
    assert policy.video_required_for == {"spoiled"}
    assert (policy.min_photos, policy.receipt_window_days) == (2, 7)
    assert (
        policy.max_refunds_per_order,
        policy.max_disputes_per_buyer,
        policy.buyer_window_days,
    ) == (2, 4, 90)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("dry_run = ", "not valid TOML"),
        ('[decisions]\nblock = ["no_such_code"]', "decisions.block"),
        ('[thresholds]\nreview_above = { usd = "1" }', "thresholds.review_above"),
        ('[evidence]\nvideo_required_for = ["broken_heart"]', "evidence.video_required_for"),
        ("[evidence]\nmin_photos = -1", "evidence.min_photos"),
        ("[limits]\nsurprise = 1", "limits.surprise"),
        ('[decisions]\nblock = ["no_manifest"]\nreview = ["no_manifest"]', "both block and review"),
        # Only a recovered copy may allow: never a bad signature or another order's file.
        ('[decisions]\nallow = ["signature_invalid"]', "may allow"),
        ('[decisions]\nallow = ["evidence_reused"]', "may allow"),
        (
            '[decisions]\nallow = ["manifest_recovered"]\nreview = ["manifest_recovered"]',
            "both allow and block or review",
        ),
    ],
    ids=[
        "bad-toml",
        "unknown-code",
        "bad-currency",
        "unknown-claim-type",
        "negative",
        "unknown-key",
        "overlap",
        "allow-signature-invalid",
        "allow-reused",
        "allow-and-review",
    ],
)
def test_invalid_policy_names_the_problem(text: str, names: str) -> None:
    with pytest.raises(PolicyFileError) as caught:
        parse_policy(text)
    assert caught.value.code == "policy_invalid"
    assert names in caught.value.message


def test_missing_file_is_a_policy_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyFileError) as caught:
        load_policy(tmp_path / "absent.toml")
    assert caught.value.code == "policy_invalid"


def test_a_recovered_copy_reviews_by_default_and_may_allow() -> None:
    assert default_policy().decision_for(ReasonCode.MANIFEST_RECOVERED) == "review"
    allowing = parse_policy('[decisions]\nallow = ["manifest_recovered"]\n')
    assert allowing.decision_for(ReasonCode.MANIFEST_RECOVERED) == "allow"
    assert ReasonCode.MANIFEST_RECOVERED not in allowing.review
    assert allowing.decision_for(ReasonCode.BUYER_MISMATCH) == "block"
