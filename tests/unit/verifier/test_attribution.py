"""Whose side a verdict points to, and the merchant and buyer rules that count it (pure).

Adversaries: a seller shipping another unit than the one it sealed (``merchant``), a buyer
reporting a unit the order never named after a correct sealed shipment (``buyer``); a seller
with a high wrong-item rate whose new claims must reach a person.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tests.unit.verifier.test_serial import _facts
from verifier.attribution import dispute_attribution
from verifier.checks.serial import check_serial
from verifier.engine import evaluate
from verifier.models import Decision, DisputeContext, OrderFacts
from verifier.policy import DEFAULT_POLICY
from verifier.policy_file import PolicyFileError, parse_policy
from verifier.reasons import ReasonCode
from verifier.rules import MERCHANT_RULE, apply_rules
from verifier.schemas import CheckOut, EvidenceVerdictOut, VerdictOut

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def _ctx(order_serials: tuple[str, ...]) -> DisputeContext:
    order = OrderFacts("O-1", "B-1", NOW, None, serials=order_serials)
    return DisputeContext(order_id="O-1", buyer_id="B-1", order=order, now=NOW)


@pytest.mark.parametrize(
    ("received", "shipped", "listed", "side"),
    [
        (("SN-B",), ("SN-A",), ("SN-A", "SN-B"), "merchant"),
        (("SN-Z",), ("SN-A",), ("SN-A", "SN-B"), "buyer"),
        (("SN-Z",), ("SN-X",), ("SN-A",), "merchant"),
        (("SN-Z",), ("SN-A",), (), "merchant"),
    ],
    ids=["listed-unit-not-sealed", "unit-from-elsewhere", "sealed-unit-not-listed", "no-list"],
)
def test_a_serial_mismatch_says_whose_side(
    received: tuple[str, ...], shipped: tuple[str, ...], listed: tuple[str, ...], side: str
) -> None:
    (result,) = check_serial(_facts(received, shipped), _ctx(listed))
    assert (result.passed, result.attribution) == (False, side)
    assert CheckOut.from_result(result).attribution == side


def test_a_matching_serial_points_to_no_one() -> None:
    (result,) = check_serial(_facts(("SN-A",), ("SN-A",)), _ctx(("SN-A",)))
    assert result.passed
    assert result.attribution is None
    # The stored verdict body leaves the key out, so earlier bodies are unchanged.
    assert "attribution" not in CheckOut.from_result(result).model_dump(mode="json")


def _verdict(*sides: str | None) -> VerdictOut:
    checks = tuple(
        CheckOut(
            check="serial",
            code=ReasonCode.SERIAL_MISMATCH,
            passed=False,
            detail="d",
            attribution=side,
        )
        for side in sides
    )
    evidence = EvidenceVerdictOut(
        filename="f",
        media_type="image/jpeg",
        content_sha256="0" * 64,
        decision=Decision.BLOCK,
        reasons=(),
        checks=checks,
        manifest_id=None,
        stage=None,
        evidence_id=None,
    )
    return VerdictOut(
        decision=Decision.BLOCK,
        reasons=(),
        evidence=(evidence,),
        decided_at=NOW.isoformat(),
        policy_trace=(),
        policy_decision=Decision.BLOCK,
        dry_run=False,
    )


@pytest.mark.parametrize(
    ("sides", "expected"),
    [((), None), ((None,), None), (("buyer",), "buyer"), (("buyer", "merchant"), "merchant")],
    ids=["no-checks", "no-side", "buyer", "merchant-wins"],
)
def test_the_dispute_takes_the_merchants_side_first(
    sides: tuple[str | None, ...], expected: str | None
) -> None:
    assert dispute_attribution(_verdict(*sides)) == expected


_RATE = replace(DEFAULT_POLICY, max_wrong_item_rate=Decimal("0.2"), wrong_item_min_disputes=5)


@pytest.mark.parametrize(
    ("total", "wrong", "fired"),
    [(4, 4, False), (5, 0, False), (10, 1, False), (10, 2, True), (5, 1, True)],
    ids=["below-min-count", "none-wrong", "just-below-rate", "at-rate", "min-count-at-rate"],
)
def test_the_wrong_item_rate_fires_from_its_threshold_and_min_count(
    total: int, wrong: int, fired: bool
) -> None:
    ctx = replace(_ctx(()), merchant_disputes=total, merchant_wrong_items=wrong)
    (rule,) = [r for r in apply_rules(_RATE, ctx, ()) if r.rule == MERCHANT_RULE]
    assert rule.fired is fired


def test_the_fired_rate_reviews_with_its_own_reason_code() -> None:
    ctx = replace(_ctx(()), merchant_disputes=5, merchant_wrong_items=5)
    verdict = evaluate([], ctx, policy=_RATE)
    codes = {r.code for r in verdict.reasons}
    assert ReasonCode.MERCHANT_WRONG_ITEM_RATE in codes
    assert ReasonCode.POLICY_REVIEW not in codes
    assert DEFAULT_POLICY.decision_for(ReasonCode.MERCHANT_WRONG_ITEM_RATE) == Decision.REVIEW


@pytest.mark.parametrize(("swaps", "fired"), [(0, False), (1, True)], ids=["none", "one"])
def test_a_buyers_swaps_count_against_the_buyer(swaps: int, fired: bool) -> None:
    policy = replace(DEFAULT_POLICY, max_swaps_per_buyer=1)
    ctx = replace(_ctx(()), prior_swaps_for_buyer=swaps)
    (rule,) = [r for r in apply_rules(policy, ctx, ()) if r.rule == "swaps_per_buyer"]
    assert rule.fired is fired


def test_the_policy_file_reads_merchant_rules() -> None:
    policy = parse_policy(
        '[merchants]\nwrong_item_rate_review_at = "0.3"\nwrong_item_min_disputes = 2\n'
        "window_days = 7\n[limits]\nmax_swaps_per_buyer = 2\n"
    )
    assert (policy.max_wrong_item_rate, policy.wrong_item_min_disputes) == (Decimal("0.3"), 2)
    assert (policy.merchant_window_days, policy.max_swaps_per_buyer) == (7, 2)
    assert parse_policy("").max_wrong_item_rate is None
    with pytest.raises(PolicyFileError):
        parse_policy('[merchants]\nwrong_item_rate_review_at = "1.5"\n')
