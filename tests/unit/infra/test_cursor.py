"""infra.cursor: positions round-trip; altered, foreign or undecodable cursors are refused."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from infra.cursor import CURSOR_MAX_CHARS, from_cursor, to_cursor
from infra.errors import OrderSealError

AT = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
FILTERS: dict[str, object] = {"status": "open", "reason": None}


def _code(cursor: str, filters: dict[str, object] = FILTERS) -> str:
    with pytest.raises(OrderSealError) as caught:
        from_cursor(cursor, filters=filters)
    return caught.value.code


def test_round_trip_keeps_the_position() -> None:
    cursor = to_cursor(AT, "dp_1", filters=FILTERS)
    assert from_cursor(cursor, filters=FILTERS) == (AT, "dp_1")


def test_none_filters_do_not_count_and_times_come_back_in_utc() -> None:
    local = AT.astimezone(timezone(timedelta(hours=5)))
    cursor = to_cursor(local, "dp_1", filters={"status": "open"})
    at, _ = from_cursor(cursor, filters={"status": "open", "buyer_id": None})
    assert at == AT
    assert at.tzinfo == UTC


def _forge(body: object) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")
    genuine = to_cursor(AT, "dp_1", filters=FILTERS)
    return f"{payload}.{genuine.partition('.')[2]}"


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "garbage",
        to_cursor(AT, "dp_1", filters=FILTERS)[:-1],
        to_cursor(AT, "dp_1", filters=FILTERS) + "0",
        "A" + to_cursor(AT, "dp_1", filters=FILTERS)[1:],
        _forge({"v": 1, "t": AT.isoformat(), "i": "dp_9", "f": "x"}),
        "x" * (CURSOR_MAX_CHARS + 1),
    ],
    ids=["empty", "garbage", "truncated", "extended", "edited", "forged", "over-long"],
)
def test_tampered_cursors_are_refused(cursor: str) -> None:
    assert _code(cursor) == "cursor_invalid"


def test_a_cursor_of_other_filters_is_refused() -> None:
    cursor = to_cursor(AT, "dp_1", filters=FILTERS)
    assert _code(cursor, {"status": "decided"}) == "cursor_invalid"
