"""The platform's API, through the real app (issue 16 §2-3), each adversary next to its honest path.

- Idempotency-Key on order and dispute creation: a retry answers the first answer; the same key
  with another body, and a key of another caller, never reach the first answer.
- Attachments: a multipart form is refused 415 before anything is stored; a file is detached and
  replaced before the decision, kept after it (409), and a re-decision says why.
- The platform's own listing: filters in SQL before the limit, one query per page, a keyset
  cursor that refuses tampering and other filters, unknown parameters refused.
- Orders: read, update what may change, cancel (sessions and tokens then refused), the sealed
  evidence list; buyer tokens only for the buyer the order names.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, event

from clients.client import APIError, PlatformClient
from infra.settings import Settings
from orderseal.services import Services
from tests.support import flows
from tests.support.cli import run_main

ORDERS, DISPUTES, LISTING = "/v1/orders", "/v1/disputes", "/v1/platform/disputes"


@dataclass
class World:
    base_url: str
    cast: flows.Actors
    other_platform: PlatformClient
    agent: PlatformClient
    services: Services
    settings: Settings
    shipped: flows.Shipped
    sealed: list[Path]
    work: Path


@pytest.fixture(scope="module")
def world(
    live_api: str,
    credentials: dict[str, str],
    services: Services,
    settings: Settings,
    tmp_path_factory: pytest.TempPathFactory,
) -> World:
    work = tmp_path_factory.mktemp("platform")
    cast = flows.actors(live_api, credentials)
    order_id = flows.register_order(cast)
    shipped = flows.ship(cast, order_id, work)
    sealed = flows.receive(cast, shipped, work)
    other = services.ledger.api_keys.issue(
        role="platform", subject="other-platform", now=services.clock()
    )
    return World(
        live_api,
        cast,
        PlatformClient(live_api, other.secret),
        PlatformClient(live_api, credentials["agent"]),
        services,
        settings,
        shipped,
        sealed,
        work,
    )


def _code(call: Any) -> tuple[int, str]:
    with pytest.raises(APIError) as caught:
        call()
    return caught.value.status, caught.value.code


def _order_body(buyer_id: str, **changes: Any) -> dict[str, Any]:
    body = {
        "order_id": f"ORD-{secrets.token_hex(4).upper()}",
        "buyer_id": buyer_id,
        "items": [{"sku": "SKU-1", "quantity": 1}],
        "declared_value": "49.00",
        "currency": "USD",
    }
    return body | changes


def _dispute_body(world: World, order_id: str | None = None, **changes: Any) -> dict[str, Any]:
    body = {
        "order_id": order_id or world.shipped.order_id,
        "buyer_id": world.cast.buyer_id,
        "claim_type": "damaged",
        "amount": "49.00",
        "currency": "USD",
    }
    return body | changes


def _key() -> dict[str, str]:
    return {"Idempotency-Key": f"idem-{secrets.token_hex(8)}"}


# Idempotency -------------------------------------------------------------------------------
def test_order_retry_with_its_key_answers_the_first_answer(world: World) -> None:
    http, body, key = world.cast.platform.http, _order_body(world.cast.buyer_id), _key()
    first = http.post(ORDERS, json=body, headers=key)
    again = http.post(ORDERS, json=body, headers=key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers


def test_order_key_reused_with_another_body_is_refused(world: World) -> None:
    http, body, key = world.cast.platform.http, _order_body(world.cast.buyer_id), _key()
    http.post(ORDERS, json=body, headers=key)
    other = http.post(ORDERS, json=body | {"declared_value": "1.00"}, headers=key)
    assert (other.status_code, other.json()["error"]["code"]) == (409, "idempotency_key_reused")


def test_order_retry_without_a_key_same_body_200_other_body_order_exists(world: World) -> None:
    platform, body = world.cast.platform, _order_body(world.cast.buyer_id)
    assert platform.http.post(ORDERS, json=body).status_code == 201
    same = platform.http.post(ORDERS, json=body)
    assert (same.status_code, same.json()["order_id"]) == (200, body["order_id"])
    changed = body | {"currency": "EUR"}
    assert _code(lambda: platform.call("POST", ORDERS, json=changed)) == (409, "order_exists")


def test_dispute_retry_with_its_key_files_one_dispute(world: World) -> None:
    order_id = flows.register_order(world.cast)
    http, key = world.cast.platform.http, _key()
    first = http.post(DISPUTES, json=_dispute_body(world, order_id), headers=key)
    again = http.post(DISPUTES, json=_dispute_body(world, order_id), headers=key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["dispute_id"] == first.json()["dispute_id"]
    listed = world.cast.platform.call("GET", LISTING, params={"order_id": order_id})
    assert [d["dispute_id"] for d in listed["disputes"]] == [first.json()["dispute_id"]]
    other = http.post(DISPUTES, json=_dispute_body(world, order_id, amount="5.00"), headers=key)
    assert (other.status_code, other.json()["error"]["code"]) == (409, "idempotency_key_reused")


def test_another_callers_key_is_another_key(world: World) -> None:
    """Adversary: a second platform key sends the first caller's key; it gets its own dispute."""
    key, body = _key(), _dispute_body(world)
    mine = world.cast.platform.http.post(DISPUTES, json=body, headers=key).json()
    theirs = world.other_platform.http.post(DISPUTES, json=body, headers=key)
    assert theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs.headers
    assert theirs.json()["dispute_id"] != mine["dispute_id"]
    # ... and with another body it is not told the key exists.
    other = world.other_platform.http.post(
        DISPUTES, json=body | {"amount": "1.00"}, headers=_key() | {"Idempotency-Key": "fresh"}
    )
    assert other.status_code == 201


@pytest.mark.parametrize(
    ("key", "status"),
    [("k" * 255, 201), ("k" * 256, 422), ("has space", 422)],
    ids=["255-chars", "256-chars", "space"],
)
def test_idempotency_key_is_bounded(world: World, key: str, status: int) -> None:
    response = world.cast.platform.http.post(
        ORDERS, json=_order_body(world.cast.buyer_id), headers={"Idempotency-Key": key}
    )
    assert response.status_code == status
    if status == 422:
        assert response.json()["error"]["code"] == "invalid_request"


# Attachments -------------------------------------------------------------------------------
def _file(world: World, name: str, content: bytes) -> Path:
    path = world.work / name
    path.write_bytes(content)
    return path


def test_multipart_upload_is_refused_before_anything_is_stored(world: World) -> None:
    dispute = world.cast.platform.call("POST", DISPUTES, json=_dispute_body(world))
    response = world.cast.platform.http.put(
        f"{DISPUTES}/{dispute['dispute_id']}/files",
        files={"file": ("unboxing.jpg", world.sealed[0].read_bytes(), "image/jpeg")},
    )
    assert (response.status_code, response.json()["error"]["code"]) == (
        415,
        "multipart_unsupported",
    )
    assert world.services.ledger.attachments(dispute["dispute_id"]) == []


def test_detach_and_replace_before_decision_kept_after_and_redecision_says_why(
    world: World,
) -> None:
    platform = world.cast.platform
    dispute_id = platform.call("POST", DISPUTES, json=_dispute_body(world))["dispute_id"]
    wrong = platform.attach_file(
        dispute_id, _file(world, "notes.txt", b"not a photo"), filename="notes.txt"
    )
    path = f"{DISPUTES}/{dispute_id}/files/{wrong['content_sha256']}"
    assert platform.call("DELETE", path)["detached"] is True
    assert _code(lambda: platform.call("DELETE", path)) == (404, "attachment_not_found")
    platform.attach_file(dispute_id, world.sealed[0], filename="unboxing.jpg")
    decided = platform.decide(dispute_id)
    # Only the replacement is judged: the detached text file leaves no unsupported_media.
    verdict = decided["verdict"]
    assert verdict is not None
    assert [e["filename"] for e in verdict["evidence"]] == ["unboxing.jpg"]
    assert "unsupported_media" not in flows.codes(dict(decided))
    assert [h["change_reason"] for h in decided["history"]] == [None]
    # Adversary: detaching after the decision (to swap the evidence under the verdict).
    kept = (
        f"{DISPUTES}/{dispute_id}/files/{hashlib.sha256(world.sealed[0].read_bytes()).hexdigest()}"
    )
    assert _code(lambda: platform.call("DELETE", kept)) == (409, "dispute_decided")
    assert len(world.services.ledger.attachments(dispute_id)) == 1
    platform.attach_file(dispute_id, _file(world, "more.txt", b"one more file"), filename="m.txt")
    again = platform.decide(dispute_id)
    assert [h["change_reason"] for h in again["history"]] == [None, "evidence_added"]
    third = platform.decide(dispute_id)
    assert third["history"][-1]["change_reason"] == "re_evaluated"
    # The reason is inside the stored (audit-signed) body; a first verdict's body has none.
    bodies = [v.body for v in world.services.ledger.verdicts(dispute_id)]
    assert [b.get("change_reason") for b in bodies] == [None, "evidence_added", "re_evaluated"]
    assert "change_reason" not in bodies[0]
    audit = run_main(world.settings, "audit", "verify")
    assert audit.returncode == 0, audit.stdout + audit.stderr


@pytest.mark.parametrize(
    ("dispute", "sha", "expected"),
    [
        ("dp_missing", "0" * 64, (404, "dispute_not_found")),
        ("own", "0" * 64, (404, "attachment_not_found")),
        ("own", "NOT-A-SHA", (422, "invalid_request")),
    ],
    ids=["unknown-dispute", "not-attached", "not-a-sha256"],
)
def test_detach_refusals(world: World, dispute: str, sha: str, expected: tuple[int, str]) -> None:
    platform = world.cast.platform
    if dispute == "own":
        dispute = platform.call("POST", DISPUTES, json=_dispute_body(world))["dispute_id"]
    assert _code(lambda: platform.call("DELETE", f"{DISPUTES}/{dispute}/files/{sha}")) == expected


# The platform's listing ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def listed(world: World) -> tuple[str, list[str]]:
    """A fresh order with five disputes: three decided review/unsupported_media, two open."""
    order_id = flows.register_order(world.cast)
    ids = []
    for index in range(5):
        dispute_id = world.cast.platform.call(
            "POST", DISPUTES, json=_dispute_body(world, order_id)
        )["dispute_id"]
        if index % 2 == 0:
            world.cast.platform.attach_file(
                dispute_id, _file(world, f"x{index}.txt", f"text {index}".encode()), filename="x"
            )
            world.cast.platform.decide(dispute_id)
        ids.append(dispute_id)
    return order_id, ids


def _page(world: World, **params: Any) -> dict[str, Any]:
    page: dict[str, Any] = world.cast.platform.call("GET", LISTING, params=params)
    return page


def test_listing_pages_through_every_dispute_once_with_the_cursor(
    world: World, listed: tuple[str, list[str]]
) -> None:
    order_id, ids = listed
    seen: list[str] = []
    page = _page(world, order_id=order_id, limit=2)
    pages = 1
    while page["next_cursor"]:
        seen += [d["dispute_id"] for d in page["disputes"]]
        page = _page(world, order_id=order_id, limit=2, cursor=page["next_cursor"])
        pages += 1
    seen += [d["dispute_id"] for d in page["disputes"]]
    assert sorted(seen) == sorted(ids)
    assert pages == 3


def test_filters_apply_before_the_limit(world: World, listed: tuple[str, list[str]]) -> None:
    order_id, ids = listed
    # Three match the reason; a limit of 2 still returns two of them, then the third.
    page = _page(world, order_id=order_id, reason="unsupported_media", limit=2)
    assert len(page["disputes"]) == 2
    assert all("unsupported_media" in d["reason_codes"] for d in page["disputes"])
    rest = _page(
        world, order_id=order_id, reason="unsupported_media", limit=2, cursor=page["next_cursor"]
    )
    assert len(rest["disputes"]) == 1
    assert rest["next_cursor"] is None
    assert {
        d["dispute_id"] for d in _page(world, order_id=order_id, status="open")["disputes"]
    } == {
        ids[1],
        ids[3],
    }
    decided = _page(world, order_id=order_id, status="decided", decision="review")
    assert {d["dispute_id"] for d in decided["disputes"]} == {ids[0], ids[2], ids[4]}
    assert _page(world, order_id=order_id, decision="allow")["disputes"] == []
    buyer = _page(world, buyer_id=world.cast.buyer_id, order_id=order_id)
    assert len(buyer["disputes"]) == 5
    assert _page(world, buyer_id="nobody-at-all", order_id=order_id)["disputes"] == []


def test_updated_since(world: World, listed: tuple[str, list[str]]) -> None:
    order_id, _ = listed
    rows = _page(world, order_id=order_id)["disputes"]
    last = max(datetime.fromisoformat(d["updated_at"]) for d in rows)
    newest = [d["dispute_id"] for d in rows if datetime.fromisoformat(d["updated_at"]) == last]
    at = _page(world, order_id=order_id, updated_since=last.isoformat())["disputes"]
    assert [d["dispute_id"] for d in at] == newest
    after = (last + timedelta(seconds=1)).isoformat()
    assert _page(world, order_id=order_id, updated_since=after)["disputes"] == []


@pytest.mark.parametrize(
    "since",
    [
        pytest.param("2026-01-01", id="date-only"),
        pytest.param("2026-01-01T00:00:00", id="no-zone"),
        pytest.param("0001-01-01T00:00:00+14:00", id="before-year-1-in-utc"),
        pytest.param("9999-12-31T23:59:59-14:00", id="after-year-9999-in-utc"),
    ],
)
def test_an_updated_since_without_zone_or_out_of_range_is_refused(world: World, since: str) -> None:
    """Adversary: any caller sending a time the ledger cannot store (it keeps aware UTC times
    only), to get a 500 and a traceback in the log instead of a stable code."""
    with pytest.raises(APIError) as caught:
        _page(world, updated_since=since)
    assert (caught.value.status, caught.value.code) == (422, "invalid_request")
    # The same instant with its zone is a filter like any other.
    assert "disputes" in _page(world, updated_since="2026-01-01T00:00:00+14:00")


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """Every SQL statement this process runs while the test does (the live server's thread too)."""
    seen: list[str] = []
    lock = threading.Lock()

    def count(*args: Any) -> None:
        with lock:
            seen.append(str(args[2]))

    event.listen(Engine, "before_cursor_execute", count)
    yield seen
    event.remove(Engine, "before_cursor_execute", count)


def test_one_query_per_page_however_long(
    world: World, listed: tuple[str, list[str]], statements: list[str]
) -> None:
    order_id, _ = listed
    counts = []
    for limit in (1, 5):
        statements.clear()
        assert len(_page(world, order_id=order_id, limit=limit)["disputes"]) == limit
        counts.append(sum("FROM disputes" in s for s in statements))
    assert counts == [1, 1]


def test_tampered_or_foreign_cursor_is_refused(world: World, listed: tuple[str, list[str]]) -> None:
    order_id, _ = listed
    cursor = _page(world, order_id=order_id, limit=1)["next_cursor"]
    payload, _, checksum = cursor.partition(".")
    for bad in (cursor[:-1], payload[::-1] + "." + checksum, "garbage", cursor + "x"):
        call = lambda bad=bad: _page(world, order_id=order_id, limit=1, cursor=bad)  # noqa: E731
        assert _code(call) == (422, "cursor_invalid")
    # A genuine cursor replayed under other filters would land anywhere: refused as well.
    assert _code(lambda: _page(world, order_id=order_id, status="open", cursor=cursor)) == (
        422,
        "cursor_invalid",
    )


@pytest.mark.parametrize(
    "params",
    [{"offset": "2"}, {"page": "1"}, {"reason": "no_such_reason"}, {"limit": "0"}, {"status": "x"}],
    ids=["offset", "unknown", "unknown-reason", "limit-0", "bad-status"],
)
def test_unknown_or_bad_parameters_are_refused(world: World, params: dict[str, str]) -> None:
    assert _code(lambda: _page(world, **params)) == (422, "invalid_request")


def test_only_the_platform_lists_its_disputes(world: World) -> None:
    """Adversaries: an agent key, a buyer token and a station signature on the platform list."""
    assert _code(lambda: world.agent.call("GET", LISTING)) == (403, "wrong_role")
    token = flows.buyer_token_response(world.cast.platform, world.cast.buyer_id)["token"]
    as_buyer = httpx.get(
        world.base_url + LISTING, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    # A buyer token is no API key at all: refused as an unknown one.
    assert (as_buyer.status_code, as_buyer.json()["error"]["code"]) == (401, "credentials_invalid")
    headers = world.cast.station.signed_headers("GET", LISTING, hashlib.sha256(b"").hexdigest())
    as_station = httpx.get(world.base_url + LISTING, headers=headers, timeout=30)
    # A station signature carries no API key: the platform route sees no credential at all.
    assert (as_station.status_code, as_station.json()["error"]["code"]) == (
        401,
        "credentials_missing",
    )
    # The agents keep their own list.
    assert "disputes" in world.agent.call("GET", DISPUTES)


# Orders --------------------------------------------------------------------------------------
def test_read_update_and_cancel_an_order(world: World) -> None:
    platform = world.cast.platform
    order_id = flows.register_order(world.cast)
    order = platform.call("GET", f"{ORDERS}/{order_id}")
    assert (order["status"], order["buyer_id"]) == ("open", world.cast.buyer_id)
    later = (datetime.now(UTC) + timedelta(days=9)).date().isoformat()
    changed = platform.call(
        "PATCH", f"{ORDERS}/{order_id}", json={"expected_delivery": later, "carrier": "UPS"}
    )
    assert (changed["expected_delivery"], changed["carrier"]) == (later, "UPS")
    assert changed["declared_value"] == order["declared_value"]
    # What the evidence is sealed against never changes.
    for field, value in (("buyer_id", "someone-else"), ("declared_value", "1.00")):
        call = lambda f=field, v=value: platform.call(  # noqa: E731
            "PATCH", f"{ORDERS}/{order_id}", json={f: v}
        )
        assert _code(call) == (422, "invalid_request")
    cancelled = platform.call("POST", f"{ORDERS}/{order_id}/cancel")
    assert cancelled["status"] == "cancelled"
    assert (
        platform.call("POST", f"{ORDERS}/{order_id}/cancel")["cancelled_at"]
        == (cancelled["cancelled_at"])
    )
    refused = (409, "order_cancelled")
    assert _code(lambda: world.cast.station.open_session(order_id)) == refused
    assert (
        _code(lambda: platform.call("PATCH", f"{ORDERS}/{order_id}", json={"carrier": "DHL"}))
        == refused
    )
    assert (
        _code(lambda: flows.buyer_token_response(platform, world.cast.buyer_id, order_id=order_id))
        == refused
    )


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("PATCH", "", {"carrier": "UPS"}),
        ("POST", "/cancel", None),
        ("GET", "/evidence", None),
    ],
    ids=["get", "patch", "cancel", "evidence"],
)
def test_unknown_order_is_order_unknown(
    world: World, method: str, suffix: str, body: dict[str, str] | None
) -> None:
    call = lambda: world.cast.platform.call(method, f"{ORDERS}/ORD-NEVER{suffix}", json=body)  # noqa: E731
    assert _code(call) == (404, "order_unknown")


def test_order_evidence_lists_the_sealed_captures(world: World) -> None:
    listing = world.cast.platform.call("GET", f"{ORDERS}/{world.shipped.order_id}/evidence")
    stages = {e["stage"] for e in listing["evidence"]}
    assert stages == {"shipment", "receipt"}
    shipped = world.shipped.evidence[0]
    row = next(e for e in listing["evidence"] if e["evidence_id"] == shipped["evidence_id"])
    assert (row["sealed_sha256"], row["media_type"]) == (shipped["sealed_sha256"], "image/jpeg")
    receipt = next(e for e in listing["evidence"] if e["stage"] == "receipt")
    assert receipt["sealed_sha256"] == hashlib.sha256(world.sealed[0].read_bytes()).hexdigest()
    # The platform offers it; attaching it by id is the sealed-evidence route.
    dispute_id = world.cast.platform.call("POST", DISPUTES, json=_dispute_body(world))["dispute_id"]
    attached = world.cast.platform.attach_sealed(dispute_id, [receipt["evidence_id"]])
    assert attached["complete"] is True


# Buyer tokens --------------------------------------------------------------------------------
def test_buyer_token_for_the_orders_buyer_only(world: World) -> None:
    platform, order_id = world.cast.platform, world.shipped.order_id
    token = flows.buyer_token_response(platform, world.cast.buyer_id, order_id=order_id)
    assert token["expires_in_seconds"] > 0
    # Adversary: a token for a buyer the order does not name (to capture as someone else).
    call = lambda: flows.buyer_token_response(platform, "buyer-not-on-it", order_id=order_id)  # noqa: E731
    assert _code(call) == (403, "buyer_not_on_order")
    call = lambda: flows.buyer_token_response(platform, world.cast.buyer_id, order_id="ORD-NEVER")  # noqa: E731
    assert _code(call) == (404, "order_unknown")
    missing = lambda: platform.call("POST", "/v1/buyer-tokens", json={"buyer_id": "b"})  # noqa: E731
    assert _code(missing) == (422, "invalid_request")


# The agents' list keeps its route, with the same fixes ------------------------------------
def test_agent_list_filters_reason_before_the_limit_in_two_queries(
    world: World, listed: tuple[str, list[str]], statements: list[str]
) -> None:
    for _ in range(2):  # the newest disputes do not match: the filter must not run after limit
        world.cast.platform.call("POST", DISPUTES, json=_dispute_body(world))
    counts = []
    for limit in (2, 3):
        statements.clear()
        page = world.agent.call(
            "GET", DISPUTES, params={"reason": "unsupported_media", "limit": limit}
        )["disputes"]
        assert len(page) == limit
        assert all("unsupported_media" in {r["code"] for r in d["reasons"]} for d in page)
        counts.append(
            (
                sum("FROM disputes" in s for s in statements),
                sum("FROM verdicts" in s for s in statements),
            )
        )
    assert counts == [(1, 1), (1, 1)]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"offset": "2"}, "invalid_request"),
        ({"page": "2"}, "invalid_request"),
        ({"cursor": "x"}, "cursor_invalid"),
        ({"order_id": "not an id"}, "invalid_request"),
    ],
    ids=["offset", "page", "altered-cursor", "bad-order-id"],
)
def test_agent_list_refuses_unknown_parameters(
    world: World, params: dict[str, str], code: str
) -> None:
    # The agents' list pages with a cursor and searches by order and buyer (issue 17):
    # anything else, or a malformed value, is refused.
    assert _code(lambda: world.agent.call("GET", DISPUTES, params=params)) == (422, code)


def test_the_client_retries_a_filing_with_its_key(world: World) -> None:
    fields = _dispute_body(world)
    first = world.cast.platform.file_dispute(**fields, idempotency_key="client-retry-1")
    again = world.cast.platform.file_dispute(**fields, idempotency_key="client-retry-1")
    assert again["dispute_id"] == first["dispute_id"]


def test_concurrent_retries_with_one_key_file_one_dispute(world: World) -> None:
    """Eight simultaneous sends of one keyed filing: one dispute; the rest replay it or wait."""
    order_id = flows.register_order(world.cast)
    body, key = _dispute_body(world, order_id), _key()
    answers: list[tuple[int, str]] = []

    def send() -> None:
        response = world.cast.platform.http.post(DISPUTES, json=body, headers=key)
        payload = response.json()
        answers.append(
            (response.status_code, payload.get("dispute_id") or payload["error"]["code"])
        )

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    created = {ident for status, ident in answers if status == 201}
    assert len(created) == 1, answers
    assert all(a == (409, "idempotency_key_in_progress") for a in answers if a[0] != 201), answers
    listed = world.cast.platform.call("GET", LISTING, params={"order_id": order_id})
    assert [d["dispute_id"] for d in listed["disputes"]] == sorted(created)
