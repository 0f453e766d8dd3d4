"""Guarded ledger sessions: an outage is ``ledger_unavailable`` (503), text the database
cannot hold is ``invalid_request`` (422), and every other database error passes unchanged.

Real outages on SQLite files (a folder that is not there, a pool with no free connection, a
read-only database at commit) and, for the errors SQLite never raises, the mapping itself.
The HTTP view of a PostgreSQL outage is ``tests/integration/test_outages.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from infra.db import create_ledger_engine, create_schema, session_factory
from infra.errors import ConflictError, InputError, OrderSealError, UnavailableError
from infra.ledger.models import Order
from infra.ledger.repository import Ledger
from infra.ledger.sessions import GuardedSessions, outage_is_unavailable

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def _order(order_id: str = "ord-1") -> Order:
    return Order(
        order_id=order_id,
        buyer_id="buyer-1",
        items=[],
        declared_value="1.00",
        currency="USD",
        carrier=None,
        tracking_number=None,
        expected_delivery=None,
        created_at=NOW,
    )


@pytest.fixture
def ledger_file(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.sqlite3"
    engine = create_ledger_engine(f"sqlite:///{path}")
    create_schema(engine)
    Ledger(session_factory(engine)).add_order(_order())
    engine.dispose()
    return path


@pytest.fixture
def engines() -> Iterator[Callable[..., Engine]]:
    made: list[Engine] = []

    def make(url: str, **options: Any) -> Engine:
        engine = create_engine(url, **options)
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.dispose()


def _unavailable(call: Callable[[], object]) -> UnavailableError:
    with pytest.raises(UnavailableError) as refused:
        call()
    assert (refused.value.code, refused.value.http_status) == ("ledger_unavailable", 503)
    return refused.value


# Real outages -------------------------------------------------------------------
def test_a_ledger_that_cannot_be_opened_is_unavailable(
    tmp_path: Path, engines: Callable[..., Engine]
) -> None:
    missing = tmp_path / "no-such-folder" / "ledger.sqlite3"
    ledger = Ledger(session_factory(engines(f"sqlite:///{missing}")))

    for call in (
        ledger.ping,
        lambda: ledger.get_order("ord-1"),
        lambda: ledger.add_order(_order()),
        lambda: ledger.use_nonce("n-1", "station-1", NOW),
        lambda: ledger.list_disputes(),
    ):
        error = _unavailable(call)
        assert isinstance(error.__cause__, OperationalError)
        assert str(missing) not in str(error)  # no paths or URLs in what callers see


def test_a_pool_with_no_free_connection_is_unavailable(
    ledger_file: Path, engines: Callable[..., Engine]
) -> None:
    engine = engines(f"sqlite:///{ledger_file}", pool_size=1, max_overflow=0, pool_timeout=0.05)
    ledger = Ledger(session_factory(engine))
    with engine.connect() as held:  # the only connection
        held.execute(text("SELECT 1"))
        error = _unavailable(lambda: ledger.get_order("ord-1"))
        assert isinstance(error.__cause__, PoolTimeoutError)
    order = ledger.get_order("ord-1")  # the connection is back: the same ledger answers
    assert order is not None


def test_a_commit_the_database_refuses_is_unavailable_and_writes_nothing(
    ledger_file: Path, engines: Callable[..., Engine]
) -> None:
    read_only = engines(f"sqlite:///file:{ledger_file}?mode=ro&uri=true")
    ledger = Ledger(session_factory(read_only))
    assert ledger.get_order("ord-1") is not None  # reads still answer

    _unavailable(lambda: ledger.add_order(_order("ord-2")))
    _unavailable(lambda: ledger.cancel_order("ord-1", now=NOW))

    writable = Ledger(session_factory(engines(f"sqlite:///{ledger_file}")))
    assert writable.get_order("ord-2") is None
    stored = writable.get_order("ord-1")
    assert stored is not None
    assert stored.status == "open"


def test_a_duplicate_is_still_a_conflict_not_an_outage(
    ledger_file: Path, engines: Callable[..., Engine]
) -> None:
    ledger = Ledger(session_factory(engines(f"sqlite:///{ledger_file}")))
    with pytest.raises(ConflictError) as refused:
        ledger.add_order(_order())
    assert refused.value.code == "conflict"


# The mapping ----------------------------------------------------------------------
def _dbapi(kind: type[DBAPIError], *, invalidated: bool = False) -> DBAPIError:
    return kind("SELECT 1", {}, Exception("driver said no"), connection_invalidated=invalidated)


@pytest.mark.parametrize(
    ("raised", "expected", "code", "status"),
    [
        (_dbapi(OperationalError), UnavailableError, "ledger_unavailable", 503),
        (PoolTimeoutError("no connection"), UnavailableError, "ledger_unavailable", 503),
        (_dbapi(DBAPIError, invalidated=True), UnavailableError, "ledger_unavailable", 503),
        (_dbapi(DataError), InputError, "invalid_request", 422),
    ],
    ids=["operational", "pool-timeout", "connection-dropped", "data-error"],
)
def test_database_errors_become_ours(
    raised: Exception, expected: type[OrderSealError], code: str, status: int
) -> None:
    with pytest.raises(expected) as mapped:
        with outage_is_unavailable():
            raise raised
    assert (mapped.value.code, mapped.value.http_status) == (code, status)
    assert mapped.value.__cause__ is raised


@pytest.mark.parametrize(
    "raised",
    [_dbapi(IntegrityError), _dbapi(DBAPIError), ValueError("not the database")],
    ids=["integrity-error", "connection-kept", "not-a-database-error"],
)
def test_other_errors_pass_unchanged(raised: Exception) -> None:
    # IntegrityError must reach the repository, which names it a conflict.
    with pytest.raises(type(raised)) as passed:
        with outage_is_unavailable():
            raise raised
    assert passed.value is raised


def _write_then_lose_the_connection(sessions: GuardedSessions) -> None:
    with sessions.begin() as session:
        session.add(_order("ord-2"))
        session.flush()
        raise _dbapi(OperationalError)


def test_a_guarded_transaction_rolls_back_on_an_outage(
    ledger_file: Path, engines: Callable[..., Engine]
) -> None:
    sessions = GuardedSessions(session_factory(engines(f"sqlite:///{ledger_file}")))

    with pytest.raises(UnavailableError) as refused:
        _write_then_lose_the_connection(sessions)

    assert refused.value.code == "ledger_unavailable"
    with sessions() as session:
        assert session.get(Order, "ord-2") is None
        assert session.get(Order, "ord-1") is not None
