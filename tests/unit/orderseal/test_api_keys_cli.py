"""``orderseal keys api rotate --overlap``: the accepted shapes and the upper bound."""

from __future__ import annotations

from datetime import timedelta

import pytest

from infra.errors import InputError
from orderseal.api_keys_cli import MAX_OVERLAP, parse_overlap


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", timedelta(0)),
        ("90", timedelta(seconds=90)),
        ("90s", timedelta(seconds=90)),
        ("30m", timedelta(minutes=30)),
        ("24h", timedelta(hours=24)),
        ("30d", MAX_OVERLAP),
    ],
    ids=["zero", "bare-seconds", "seconds", "minutes", "hours", "the-maximum"],
)
def test_overlaps(text: str, expected: timedelta) -> None:
    assert parse_overlap(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "-1h", "1.5h", "24 h", "1w", "2592001s", "h"],
    ids=["empty", "negative", "fraction", "space", "weeks", "a-second-over", "no-number"],
)
def test_refused_overlaps(text: str) -> None:
    with pytest.raises(InputError):
        parse_overlap(text)
