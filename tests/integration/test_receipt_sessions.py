"""Receipt-session rules under an injected clock: only the order's buyer, short-lived (the
configured minutes), closed on finish, a fresh session on re-scan, and an expired label opens
nothing. Each time boundary is tested one second either side.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from clients.client import APIError
from infra.settings import Settings
from orderseal.samples import make_jpeg
from orderseal.services import Services, build_services
from tests.conftest import make_settings
from tests.support import flows

SESSION_MINUTES = 10
LABEL_DAYS = 60


class FrozenClock:
    """The service clock, moved by the tests (station signatures still use the real time)."""

    def __init__(self) -> None:
        self.start = datetime.now(UTC).replace(microsecond=0)
        self.now = self.start

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture(scope="module")
def settings(
    module_home: Path, database_url: str, storage_overrides: dict[str, object]
) -> Settings:
    return make_settings(
        module_home,
        database_url=database_url,
        receipt_session_minutes=SESSION_MINUTES,
        label_token_days=LABEL_DAYS,
        **storage_overrides,
    )


@pytest.fixture(scope="module")
def services(settings: Settings, clock: FrozenClock) -> Services:
    return build_services(settings, clock=clock)


@pytest.fixture(autouse=True)
def _reset_clock(clock: FrozenClock) -> Iterator[None]:
    clock.now = clock.start
    yield
    clock.now = clock.start


@pytest.fixture(scope="module")
def cast(live_api: str, credentials: dict[str, str]) -> flows.Actors:
    return flows.actors(live_api, credentials)


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_jpeg(tmp_path_factory.mktemp("rs") / "unbox.jpg", seed=61, size=(160, 120))


def _shipped(cast: flows.Actors, tmp_path: Path) -> flows.Shipped:
    return flows.ship(cast, flows.register_order(cast), tmp_path)


def _code(call: Any) -> tuple[int, str]:
    with pytest.raises(APIError) as caught:
        call()
    return caught.value.status, caught.value.code


def test_session_lasts_the_configured_minutes(
    cast: flows.Actors, clock: FrozenClock, photo: Path, tmp_path: Path
) -> None:
    shipped = _shipped(cast, tmp_path)
    session = cast.buyer().open_receipt(shipped.label_token)
    expires = datetime.fromisoformat(session["expires_at"])
    assert expires - clock.start == timedelta(minutes=SESSION_MINUTES)

    clock.now = expires - timedelta(seconds=1)
    assert cast.buyer().upload(session, photo, title="in-time.jpg")["stage"] == "receipt"
    clock.now = expires + timedelta(seconds=1)
    late = lambda: cast.buyer().upload(session, photo, title="late.jpg")  # noqa: E731
    assert _code(late) == (409, "session_closed")


def test_finishing_closes_the_session(
    cast: flows.Actors, photo: Path, tmp_path: Path, services: Services
) -> None:
    shipped = _shipped(cast, tmp_path)
    buyer = cast.buyer()
    session = buyer.open_receipt(shipped.label_token)
    buyer.finish(session)
    assert services.ledger.get_session(session["session_id"]).closed_at is not None  # type: ignore[union-attr]
    assert _code(lambda: buyer.upload(session, photo, title="after.jpg")) == (
        409,
        "session_closed",
    )


def test_scanning_again_opens_a_fresh_session_for_the_same_buyer_only(
    cast: flows.Actors,
    clock: FrozenClock,
    photo: Path,
    tmp_path: Path,
    live_api: str,
    credentials: dict[str, str],
) -> None:
    shipped = _shipped(cast, tmp_path)
    first = cast.buyer().open_receipt(shipped.label_token)
    clock.now = clock.start + timedelta(minutes=3)
    second = cast.buyer().open_receipt(shipped.label_token)
    assert second["session_id"] != first["session_id"]
    assert datetime.fromisoformat(second["expires_at"]) == clock.now + timedelta(
        minutes=SESSION_MINUTES
    )
    # The earlier session is closed by the re-scan: one live session per buyer and order.
    stale = lambda: cast.buyer().upload(first, photo, title="old.jpg")  # noqa: E731
    assert _code(stale) == (409, "session_closed")
    assert cast.buyer().upload(second, photo, title="new.jpg")["stage"] == "receipt"

    stranger = flows.actors(live_api, credentials).buyer()
    assert _code(lambda: stranger.open_receipt(shipped.label_token)) == (403, "not_your_order")


@pytest.mark.parametrize(
    ("after", "expected"),
    [(timedelta(seconds=-1), None), (timedelta(seconds=1), (401, "token_expired"))],
    ids=["1s-before-expiry", "1s-after-expiry"],
)
def test_label_token_past_expiry_opens_nothing(
    cast: flows.Actors,
    clock: FrozenClock,
    tmp_path: Path,
    services: Services,
    after: timedelta,
    expected: tuple[int, str] | None,
) -> None:
    shipped = _shipped(cast, tmp_path)
    clock.now = clock.start + timedelta(days=LABEL_DAYS) + after
    buyer = cast.buyer()  # the platform issues a fresh buyer token at the moved clock
    if expected is None:
        assert buyer.open_receipt(shipped.label_token)["order_id"] == shipped.order_id
        return
    before = len(services.ledger.evidence_for_order(shipped.order_id, "receipt"))
    assert _code(lambda: buyer.open_receipt(shipped.label_token)) == expected
    assert len(services.ledger.evidence_for_order(shipped.order_id, "receipt")) == before
