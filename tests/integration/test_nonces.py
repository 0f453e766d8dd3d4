"""Request nonces are pruned once their signatures expired (issue 14.6), on the backend under test.

Adversary: anyone who can make a station sign requests (or replay them) grows ``used_nonces``
forever unless expired rows go. A replay inside the window must still be refused.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, func, select

from capture.auth import NONCE_WINDOW
from infra.ledger.models import UsedNonce
from infra.ledger.repository import NONCE_PRUNE_BATCH, NONCE_RETENTION
from infra.settings import Settings
from orderseal.services import Services

T0 = datetime(2031, 3, 1, 12, 0, tzinfo=UTC)


def _stored(settings: Settings, nonces: list[str]) -> set[str]:
    engine = create_engine(settings.resolved_database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(select(UsedNonce.nonce).where(UsedNonce.nonce.in_(nonces)))
            return {row[0] for row in rows}
    finally:
        engine.dispose()


def _total(settings: Settings) -> int:
    engine = create_engine(settings.resolved_database_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(UsedNonce)).scalar_one())
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("later", "kept"),
    [(NONCE_WINDOW - timedelta(seconds=1), True), (NONCE_WINDOW + timedelta(seconds=1), False)],
    ids=["inside-window-kept", "past-window-pruned"],
)
def test_nonce_is_kept_for_the_window_and_pruned_after(
    services: Services, settings: Settings, later: timedelta, kept: bool
) -> None:
    start = T0 + timedelta(days=1 if kept else 2)
    old, new = secrets.token_hex(8), secrets.token_hex(8)
    ledger = services.ledger
    assert ledger.use_nonce(old, "station-n", start, keep_for=NONCE_WINDOW) is True
    assert ledger.use_nonce(new, "station-n", start + later, keep_for=NONCE_WINDOW) is True
    assert (old in _stored(settings, [old, new])) is kept
    # Inside the window the replay is refused; after it the signature has expired anyway.
    if kept:
        assert ledger.use_nonce(old, "station-n", start + later, keep_for=NONCE_WINDOW) is False


def test_pruning_is_bounded_per_request_and_drains_a_backlog(
    services: Services, settings: Settings
) -> None:
    start = T0 + timedelta(days=10)
    ledger = services.ledger
    backlog = [secrets.token_hex(8) for _ in range(NONCE_PRUNE_BATCH + 20)]
    for nonce in backlog:
        assert ledger.use_nonce(nonce, "station-b", start, keep_for=NONCE_WINDOW)
    later = start + NONCE_WINDOW + timedelta(minutes=1)
    assert ledger.use_nonce(secrets.token_hex(8), "station-b", later, keep_for=NONCE_WINDOW)
    assert len(_stored(settings, backlog)) == 20  # one request deletes at most one batch
    assert ledger.use_nonce(secrets.token_hex(8), "station-b", later, keep_for=NONCE_WINDOW)
    assert _stored(settings, backlog) == set()
    assert _total(settings) == 2  # only this window's two nonces remain


def test_a_shorter_window_never_prunes_anothers_live_nonce(
    services: Services, settings: Settings
) -> None:
    """The table is shared: a caller with a 1-minute window keeps a station nonce alive."""
    start = T0 + timedelta(days=20)
    station = secrets.token_hex(8)
    ledger = services.ledger
    assert ledger.use_nonce(station, "station-s", start, keep_for=NONCE_WINDOW)
    short = timedelta(minutes=1)
    later = start + NONCE_RETENTION - timedelta(seconds=1)
    assert ledger.use_nonce(secrets.token_hex(8), "buyer-app", later, keep_for=short)
    assert station in _stored(settings, [station])
    assert ledger.use_nonce(station, "station-s", later, keep_for=NONCE_WINDOW) is False
