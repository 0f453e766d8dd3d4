"""infra.idempotency over a real SQLite ledger: first answers replayed, other bodies refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import BaseModel

from infra.db import create_ledger_engine, create_schema, session_factory
from infra.errors import OrderSealError
from infra.idempotency import (
    IDEMPOTENCY_STALE_AFTER,
    IDEMPOTENCY_TTL,
    Idempotency,
    check_idempotency_key,
    request_fingerprint,
)
from infra.ledger.repository import Ledger

NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
SECOND = timedelta(seconds=1)


class _Answer(BaseModel):
    n: int


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    engine = create_ledger_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    create_schema(engine)
    yield Ledger(session_factory(engine))
    engine.dispose()


class _Counter:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> tuple[int, _Answer]:
        self.calls += 1
        return 201, _Answer(n=self.calls)


def _run(
    idem: Idempotency,
    action: _Counter,
    *,
    key: str | None = "k-1",
    scope: str = "platform",
    route: str = "POST /v1/x",
    body: object = None,
    now: datetime = NOW,
) -> tuple[int, int, bool]:
    outcome = idem.run(
        key,
        scope=scope,
        route=route,
        request=body if body is not None else {"a": 1},
        now=now,
        model=_Answer,
        action=action,
    )
    return outcome.status_code, outcome.body.n, outcome.replayed


def _code(call: object) -> str:
    with pytest.raises(OrderSealError) as caught:
        call()  # type: ignore[operator]
    return caught.value.code


def test_same_key_and_body_answer_the_first_answer(ledger: Ledger) -> None:
    idem, action = Idempotency(ledger.idempotency), _Counter()
    assert _run(idem, action) == (201, 1, False)
    assert _run(idem, action, body={"a": 1}) == (201, 1, True)
    assert action.calls == 1


def test_key_order_and_spacing_of_the_body_do_not_count() -> None:
    assert request_fingerprint({"a": 1, "b": [1, 2]}) == request_fingerprint({"b": [1, 2], "a": 1})
    assert request_fingerprint({"a": 1}) != request_fingerprint({"a": 2})


def test_same_key_with_another_body_is_refused(ledger: Ledger) -> None:
    idem, action = Idempotency(ledger.idempotency), _Counter()
    _run(idem, action)
    assert _code(lambda: _run(idem, action, body={"a": 2})) == "idempotency_key_reused"
    assert action.calls == 1


@pytest.mark.parametrize(
    ("scope", "route"),
    [("another-platform", "POST /v1/x"), ("platform", "POST /v1/y")],
    ids=["another-caller", "another-route"],
)
def test_a_key_belongs_to_its_caller_and_route(ledger: Ledger, scope: str, route: str) -> None:
    idem, action = Idempotency(ledger.idempotency), _Counter()
    _run(idem, action)
    # Another caller's key (even with another body) neither replays nor blocks: it is new.
    assert _run(idem, action, scope=scope, route=route, body={"a": 2}) == (201, 2, False)


def test_without_a_key_every_call_runs(ledger: Ledger) -> None:
    idem, action = Idempotency(ledger.idempotency), _Counter()
    assert _run(idem, action, key=None)[1:] == (1, False)
    assert _run(idem, action, key=None)[1:] == (2, False)


@pytest.mark.parametrize(
    ("after", "replayed"),
    [(IDEMPOTENCY_TTL - SECOND, True), (IDEMPOTENCY_TTL, False), (IDEMPOTENCY_TTL + SECOND, False)],
    ids=["second-before-expiry", "at-expiry", "second-after-expiry"],
)
def test_keys_expire(ledger: Ledger, after: timedelta, replayed: bool) -> None:
    idem, action = Idempotency(ledger.idempotency), _Counter()
    _run(idem, action)
    assert _run(idem, action, body={"a": 2} if not replayed else None, now=NOW + after)[2] is (
        replayed
    )


def test_a_failed_first_request_releases_its_key(ledger: Ledger) -> None:
    idem = Idempotency(ledger.idempotency)

    def fail() -> tuple[int, _Answer]:
        raise OrderSealError("nope", code="conflict", http_status=409)

    with pytest.raises(OrderSealError):
        idem.run("k-1", scope="p", route="r", request={}, now=NOW, model=_Answer, action=fail)
    again = idem.run(
        "k-1", scope="p", route="r", request={}, now=NOW, model=_Answer, action=_Counter()
    )
    assert not again.replayed


@pytest.mark.parametrize(
    ("age", "code"),
    [
        (IDEMPOTENCY_STALE_AFTER - SECOND, "idempotency_key_in_progress"),
        (IDEMPOTENCY_STALE_AFTER + SECOND, None),
    ],
    ids=["running", "stale-claim-taken-over"],
)
def test_a_retry_while_the_first_runs(ledger: Ledger, age: timedelta, code: str | None) -> None:
    ledger.idempotency.claim(
        scope="p",
        route="r",
        key="k-1",
        request_sha256=request_fingerprint({}),
        now=NOW,
        expires_at=NOW + IDEMPOTENCY_TTL,
        stale_before=NOW - IDEMPOTENCY_STALE_AFTER,
    )
    idem = Idempotency(ledger.idempotency)

    def retry() -> object:
        return idem.run(
            "k-1", scope="p", route="r", request={}, now=NOW + age, model=_Answer, action=_Counter()
        )

    if code is None:
        assert not retry().replayed  # type: ignore[attr-defined]
    else:
        assert _code(retry) == code


@pytest.mark.parametrize(
    "key",
    ["", "a" * 256, "has space", "tab\tkey", "ünïcode", "line\nbreak"],
    ids=["empty", "256-chars", "space", "tab", "non-ascii", "newline"],
)
def test_key_shape_is_bounded(key: str) -> None:
    assert _code(lambda: check_idempotency_key(key)) == "invalid_request"


def test_longest_key_is_accepted() -> None:
    assert check_idempotency_key("k" * 255) == "k" * 255


def test_expired_rows_are_pruned(ledger: Ledger) -> None:
    idem, action = Idempotency(ledger.idempotency), _Counter()
    _run(idem, action)
    assert ledger.idempotency.prune(before=NOW + IDEMPOTENCY_TTL) == 0
    assert ledger.idempotency.prune(before=NOW + IDEMPOTENCY_TTL + SECOND) == 1


def test_a_keyed_request_prunes_expired_keys(ledger: Ledger) -> None:
    idem, action = Idempotency(ledger.idempotency), _Counter()
    _run(idem, action, key="old")
    _run(idem, action, key="new", now=NOW + IDEMPOTENCY_TTL + SECOND)
    assert ledger.idempotency.prune(before=NOW + IDEMPOTENCY_TTL + 2 * SECOND) == 0
