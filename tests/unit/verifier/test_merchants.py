"""The merchant views' pure parts: what a merchant sees of a buyer, and of a verdict's reasons.

Adversary: a merchant that wants to learn who the buyer is, or to join its buyers with another
merchant's; a verdict message naming another order or evidence id.
"""

from __future__ import annotations

import pytest

from verifier.merchant_schemas import MERCHANT_MESSAGES, MerchantDisputeFilters, merchant_reason
from verifier.merchants import BuyerIdentity
from verifier.reasons import ReasonCode

SECRET = b"k" * 32


def test_pseudonyms_are_stable_per_merchant_and_unrelated_across_merchants() -> None:
    identity = BuyerIdentity("pseudonymous", SECRET)
    first = identity.shown("m-a", "buyer-1")
    assert first is not None
    assert first.startswith("byr_")
    assert identity.shown("m-a", "buyer-1") == first
    assert identity.shown("m-b", "buyer-1") != first
    assert identity.shown("m-a", "buyer-2") != first
    assert "buyer-1" not in first
    # Another service secret gives other pseudonyms: they cannot be recomputed without it.
    assert BuyerIdentity("pseudonymous", b"x" * 32).shown("m-a", "buyer-1") != first


@pytest.mark.parametrize(
    ("mode", "shown"), [("hidden", None), ("full", "buyer-1")], ids=["hidden", "full"]
)
def test_the_setting_hides_or_shows_the_buyer(mode: str, shown: str | None) -> None:
    assert BuyerIdentity(mode, SECRET).shown("m-a", "buyer-1") == shown


def test_every_reason_has_a_fixed_merchant_message() -> None:
    assert set(MERCHANT_MESSAGES) == set(ReasonCode)
    assert (
        merchant_reason(ReasonCode.ORDER_MISMATCH).message
        == (MERCHANT_MESSAGES[ReasonCode.ORDER_MISMATCH])
    )


def test_a_listing_cursor_is_bound_to_its_merchant() -> None:
    filters = MerchantDisputeFilters(decision=None, limit=10)
    assert filters.listing("m-a") != filters.listing("m-b")
    assert "cursor" not in filters.listing("m-a")
