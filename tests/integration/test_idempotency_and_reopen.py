"""Smaller holes on the capture path, each attack next to its honest case, over real HTTP.

Adversaries:
- a station replaying a used ``Idempotency-Key`` to smuggle a different capture (other
  bytes or another session) in as "replayed": refused ``409 idempotency_key_reused``;
- a station (of another merchant, or the packer itself) opening a new packing session on a
  packed order to take it over: refused ``409 order_already_packed`` until the platform
  reopens the order (``POST /v1/orders/{id}/reopen``);
- a platform caller batch-attaching sealed ids where one is already attached: every id is
  still attached and reported, none is silently dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from clients.client import APIError, StationClient
from infra.errors import UnavailableError
from infra.ledger.models import Evidence
from orderseal.samples import make_jpeg
from orderseal.services import Services
from tests.support import flows


@pytest.fixture(scope="module")
def cast(live_api: str, credentials: dict[str, str]) -> flows.Actors:
    return flows.actors(live_api, credentials)


@pytest.fixture(scope="module")
def other_station(live_api: str, credentials: dict[str, str]) -> StationClient:
    """A station enrolled separately: another merchant's packing station."""
    return flows.actors(live_api, credentials).station


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("holes")


def _refused(call: Callable[[], Any]) -> tuple[int, str]:
    with pytest.raises(APIError) as caught:
        call()
    return caught.value.status, caught.value.code


def _photo(work: Path, name: str, seed: int) -> Path:
    return make_jpeg(work / f"{name}.jpg", seed=seed, size=(160, 120))


# Idempotency -----------------------------------------------------------------------------
def test_true_retry_replays_the_first_capture(
    cast: flows.Actors, work: Path, services: Services
) -> None:
    order_id = flows.register_order(cast)
    session = cast.station.open_session(order_id)
    photo = _photo(work, "honest-retry", 41)
    first = cast.station.upload(session, photo, title="a.jpg", idempotency_key="idem-honest")
    again = cast.station.upload(session, photo, title="a.jpg", idempotency_key="idem-honest")
    assert (first["replayed"], again["replayed"]) == (False, True)
    assert again["evidence_id"] == first["evidence_id"]
    assert len(services.ledger.evidence_for_order(order_id)) == 1


def test_used_key_with_other_content_is_refused_not_replayed(
    cast: flows.Actors, work: Path, services: Services
) -> None:
    order_id = flows.register_order(cast)
    session = cast.station.open_session(order_id)
    first = cast.station.upload(
        session, _photo(work, "first", 42), title="a.jpg", idempotency_key="idem-content"
    )
    smuggled = _photo(work, "smuggled", 43)
    call = lambda: cast.station.upload(  # noqa: E731
        session, smuggled, title="b.jpg", idempotency_key="idem-content"
    )
    assert _refused(call) == (409, "idempotency_key_reused")
    assert [r.evidence_id for r in services.ledger.evidence_for_order(order_id)] == [
        first["evidence_id"]
    ]
    # The same capture under a fresh key is an ordinary new capture.
    fresh = cast.station.upload(session, smuggled, title="b.jpg", idempotency_key="idem-new")
    assert fresh["replayed"] is False
    assert fresh["evidence_id"] != first["evidence_id"]


def test_used_key_in_another_session_is_refused_not_replayed(
    cast: flows.Actors, work: Path, services: Services
) -> None:
    photo = _photo(work, "two-sessions", 44)
    order_a, order_b = flows.register_order(cast), flows.register_order(cast)
    session_a = cast.station.open_session(order_a)
    session_b = cast.station.open_session(order_b)
    cast.station.upload(session_a, photo, title="a.jpg", idempotency_key="idem-session")
    call = lambda: cast.station.upload(  # noqa: E731
        session_b, photo, title="a.jpg", idempotency_key="idem-session"
    )
    assert _refused(call) == (409, "idempotency_key_reused")
    assert services.ledger.evidence_for_order(order_b) == []


def test_buyer_key_reused_with_other_content_is_refused(
    cast: flows.Actors, work: Path, services: Services
) -> None:
    order_id = flows.register_order(cast)
    shipped = flows.ship(cast, order_id, work)
    buyer = cast.buyer()
    session = buyer.open_receipt(shipped.label_token)
    honest = _photo(work, "unbox-honest", 45)
    first = buyer.upload(session, honest, title="u.jpg", idempotency_key="idem-buyer")
    assert buyer.upload(session, honest, title="u.jpg", idempotency_key="idem-buyer") == {
        **first,
        "replayed": True,
    }
    call = lambda: buyer.upload(  # noqa: E731
        session, _photo(work, "unbox-staged", 46), title="u.jpg", idempotency_key="idem-buyer"
    )
    assert _refused(call) == (409, "idempotency_key_reused")
    assert len(services.ledger.evidence_for_order(order_id, "receipt")) == 1


def _lookup_misses_once(
    monkeypatch: pytest.MonkeyPatch, services: Services
) -> Callable[[str, str], Evidence | None]:
    """The first lookup misses, as when a concurrent request inserts between lookup and insert:
    the upload seals and reaches the ledger's unique (device, key) insert conflict."""
    real = services.capture.ledger.find_by_idempotency
    calls = {"n": 0}

    def lookup(device_id: str, key: str) -> Evidence | None:
        calls["n"] += 1
        return None if calls["n"] == 1 else real(device_id, key)

    monkeypatch.setattr(services.capture.ledger, "find_by_idempotency", lookup)
    return lookup


@pytest.mark.parametrize("same_capture", [True, False], ids=["true-retry", "other-bytes"])
def test_concurrent_insert_with_a_used_key_follows_the_same_rule(
    cast: flows.Actors,
    work: Path,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
    same_capture: bool,
) -> None:
    order_id = flows.register_order(cast)
    session = cast.station.open_session(order_id)
    key = f"idem-race-{same_capture}"
    # Bytes of their own per case: the same bytes in a second order are refused outright.
    photo = _photo(work, f"race-{same_capture}", 47 if same_capture else 49)
    first = cast.station.upload(session, photo, title="r.jpg", idempotency_key=key)
    second = photo if same_capture else _photo(work, f"race-other-{same_capture}", 48)
    _lookup_misses_once(monkeypatch, services)
    if same_capture:
        again = cast.station.upload(session, second, title="r.jpg", idempotency_key=key)
        assert (again["replayed"], again["evidence_id"]) == (True, first["evidence_id"])
    else:
        call = lambda: cast.station.upload(  # noqa: E731
            session, second, title="r.jpg", idempotency_key=key
        )
        assert _refused(call) == (409, "idempotency_key_reused")
    assert len(services.ledger.evidence_for_order(order_id)) == 1


# Re-opening a packed order ------------------------------------------------------------------
def test_another_station_cannot_take_over_a_packed_order(
    cast: flows.Actors, other_station: StationClient, work: Path
) -> None:
    order_id = flows.register_order(cast)
    flows.ship(cast, order_id, work)
    assert _refused(lambda: other_station.open_session(order_id)) == (
        409,
        "order_already_packed",
    )
    # The packer itself cannot start over either, and keeps its label.
    assert _refused(lambda: cast.station.open_session(order_id)) == (409, "order_already_packed")
    assert cast.station.label_png(order_id).startswith(b"\x89PNG")
    assert _refused(lambda: other_station.label_png(order_id)) == (404, "no_label")


def test_platform_reopen_lets_another_station_pack_the_order(
    cast: flows.Actors, other_station: StationClient, work: Path, services: Services
) -> None:
    order_id = flows.register_order(cast)
    shipped = flows.ship(cast, order_id, work)
    packed = services.ledger.latest_shipment_session(order_id, closed=True)
    assert packed is not None
    reopened = flows.reopen(cast, order_id)
    assert reopened["order_id"] == order_id
    assert reopened["released_session_ids"] == [packed.session_id]
    assert reopened["reopened_by"] == "platform-operator"
    released = services.ledger.get_session(packed.session_id)
    assert released is not None
    assert (released.released_by, released.released_at is not None) == (
        "platform-operator",
        True,
    )
    # Reopening twice has nothing left to release.
    assert _refused(lambda: flows.reopen(cast, order_id)) == (409, "order_not_packed")
    # The released session cannot be closed again for a fresh label.
    released_session = {"session_id": packed.session_id, "order_id": order_id}
    assert _refused(lambda: cast.station.close(released_session)) == (409, "session_closed")

    session = other_station.open_session(order_id)
    other_station.upload(session, _photo(work, "repack", 51), title="repack.jpg")
    label = other_station.close(session)
    assert label["order_id"] == order_id
    assert other_station.label_png(order_id).startswith(b"\x89PNG")
    assert _refused(lambda: cast.station.label_png(order_id)) == (404, "no_label")
    # Packed again: no one takes it over without another reopen.
    assert _refused(lambda: cast.station.open_session(order_id)) == (409, "order_already_packed")
    # The earlier label still opens the buyer's receipt session (its evidence is kept).
    assert cast.buyer().open_receipt(shipped.label_token)["order_id"] == order_id


def test_two_sessions_opened_before_packing_cannot_both_close(
    cast: flows.Actors, other_station: StationClient, work: Path
) -> None:
    order_id = flows.register_order(cast)
    first = cast.station.open_session(order_id)
    second = other_station.open_session(order_id)
    cast.station.upload(first, _photo(work, "race-a", 52), title="a.jpg")
    other_station.upload(second, _photo(work, "race-b", 53), title="b.jpg")
    cast.station.close(first)
    assert _refused(lambda: other_station.close(second)) == (409, "order_already_packed")
    assert cast.station.label_png(order_id).startswith(b"\x89PNG")


def test_reopen_of_an_unpacked_or_unknown_order_is_refused(cast: flows.Actors) -> None:
    order_id = flows.register_order(cast)
    assert _refused(lambda: flows.reopen(cast, order_id)) == (409, "order_not_packed")
    cast.station.open_session(order_id)  # an open, unclosed session is not packed
    assert _refused(lambda: flows.reopen(cast, order_id)) == (409, "order_not_packed")
    assert _refused(lambda: flows.reopen(cast, "ORD-NEVER-REGISTERED")) == (404, "order_unknown")


# Attaching sealed evidence in a batch -------------------------------------------------------
def _dispute(cast: flows.Actors, order_id: str) -> str:
    created = cast.platform.call(
        "POST",
        "/v1/disputes",
        json={
            "order_id": order_id,
            "buyer_id": cast.buyer_id,
            "claim_type": "damaged",
            "amount": "49.00",
            "currency": "USD",
        },
    )
    dispute_id: str = created["dispute_id"]
    return dispute_id


def _attach(cast: flows.Actors, dispute_id: str, ids: list[str]) -> dict[str, Any]:
    result: dict[str, Any] = cast.platform.call(
        "POST", f"/v1/disputes/{dispute_id}/sealed", json={"evidence_ids": ids}
    )
    return result


def _statuses(result: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    return [(r["evidence_id"], r["status"], r["code"]) for r in result["results"]]


@pytest.fixture(scope="module")
def two_sealed(cast: flows.Actors, work: Path) -> tuple[str, list[str]]:
    """An order packed with a photo and a video: its id and the two evidence ids."""
    order_id = flows.register_order(cast)
    shipped = flows.ship(cast, order_id, work, video=True)
    return order_id, [e["evidence_id"] for e in shipped.evidence]


def test_batch_with_an_attached_id_first_still_attaches_the_rest(
    cast: flows.Actors, two_sealed: tuple[str, list[str]], services: Services
) -> None:
    order_id, (photo, video) = two_sealed
    dispute_id = _dispute(cast, order_id)
    honest = _attach(cast, dispute_id, [photo])
    assert (honest["attached"], honest["complete"]) == (True, True)
    assert _statuses(honest) == [(photo, "attached", None)]

    batch = _attach(cast, dispute_id, [photo, video, "ev_doesnotexist"])
    assert _statuses(batch) == [
        (photo, "already_attached", None),
        (video, "attached", None),
        ("ev_doesnotexist", "not_found", "evidence_not_found"),
    ]
    assert (batch["attached"], batch["complete"]) == (False, False)
    assert len(services.ledger.attachments(dispute_id)) == 2
    again = _attach(cast, dispute_id, [photo, video])
    assert (again["attached"], again["complete"]) == (False, True)
    decided = cast.platform.call("POST", f"/v1/disputes/{dispute_id}/decide")
    assert len(decided["verdict"]["evidence"]) == 2


def test_a_failing_id_is_reported_and_the_others_still_attach(
    cast: flows.Actors,
    two_sealed: tuple[str, list[str]],
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    order_id, (photo, video) = two_sealed
    dispute_id = _dispute(cast, order_id)
    real = services.verifier.attach_sealed

    def attach(dispute: str, evidence_id: str, *, now: Any) -> bool:
        if evidence_id == photo:
            raise UnavailableError("the store is down", code="storage_unavailable")
        return real(dispute, evidence_id, now=now)

    monkeypatch.setattr(services.verifier, "attach_sealed", attach)
    batch = _attach(cast, dispute_id, [photo, video])
    assert _statuses(batch) == [
        (photo, "failed", "storage_unavailable"),
        (video, "attached", None),
    ]
    assert batch["complete"] is False
    assert [a.content_sha256 for a in services.ledger.attachments(dispute_id)] == [
        e.sealed_sha256
        for e in services.ledger.evidence_for_order(order_id)
        if e.evidence_id == video
    ]


def test_batch_on_an_unknown_dispute_attaches_nothing(
    cast: flows.Actors, two_sealed: tuple[str, list[str]]
) -> None:
    _, ids = two_sealed
    assert _refused(lambda: _attach(cast, "dp_doesnotexist", ids)) == (404, "dispute_not_found")
