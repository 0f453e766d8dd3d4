"""Signed report links through the real app (issue 17 §1): the platform's back office links to
one dispute's read-only report, which opens in a browser without any header.

Adversaries, each beside the honest path: an anonymous client guessing or altering tokens; a
link used after its expiry (one second either side) or its revocation; a link of dispute X used
to reach dispute Y or any other route; a platform key of another subject revoking the link; an
agent key revoking it (wrong role). Every dead link answers the same ``404 report_link_invalid``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest

from infra.errors import NotFoundError
from infra.ledger.agent_models import ReportLink
from orderseal.services import Services
from tests.support import flows
from verifier.report_links import MAX_LIVE_LINKS, ReportLinkService, hash_token

DISPUTES = "/v1/disputes"


@dataclass
class World:
    base: str
    cast: flows.Actors
    services: Services
    credentials: dict[str, str]
    other_platform: str
    x: str
    y: str


@pytest.fixture(scope="module")
def world(live_api: str, credentials: dict[str, str], services: Services) -> World:
    cast = flows.actors(live_api, credentials)
    order_id = flows.register_order(cast)

    def dispute() -> str:
        created: dict[str, Any] = cast.platform.call(
            "POST",
            DISPUTES,
            json={
                "order_id": order_id,
                "buyer_id": cast.buyer_id,
                "claim_type": "damaged",
                "amount": "5.00",
                "currency": "USD",
            },
        )
        dispute_id: str = created["dispute_id"]
        return dispute_id

    other = services.ledger.api_keys.issue(
        role="platform", subject="other-back-office", now=services.clock()
    )
    return World(live_api, cast, services, credentials, other.secret, dispute(), dispute())


def _create(
    world: World, dispute_id: str, body: dict[str, Any] | None = None, *, key: str | None = None
) -> httpx.Response:
    return httpx.post(
        f"{world.base}{DISPUTES}/{dispute_id}/report-links",
        headers={"Authorization": f"Bearer {key or world.credentials['platform']}"},
        json=body if body is not None else {},
        timeout=30,
    )


def _open(world: World, url: str, **kw: Any) -> httpx.Response:
    return httpx.get(f"{world.base}{url}", timeout=30, **kw)


def _error(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def _revoke(world: World, link_id: str, key: str) -> httpx.Response:
    return httpx.delete(
        f"{world.base}/v1/report-links/{link_id}",
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )


def test_a_link_opens_the_one_report_without_credentials(world: World) -> None:
    created = _create(world, world.x)
    assert created.status_code == 201, created.text
    link = created.json()
    assert link["url"].startswith("/r/")
    assert link["expires_at"].endswith("Z")
    page = _open(world, link["url"])
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert world.x in page.text
    assert world.y not in page.text
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "noindex" in page.headers["x-robots-tag"]
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    # Only the token's hash is stored.
    token = link["url"].removeprefix("/r/")
    with world.services.ledger._sessions() as session:
        row = session.get(ReportLink, link["link_id"])
    assert row is not None
    assert row.token_sha256 == hash_token(token)
    assert token not in row.token_sha256


def test_the_default_lifetime_is_an_hour(world: World) -> None:
    link = httpx.post(
        f"{world.base}{DISPUTES}/{world.x}/report-links",
        headers={"Authorization": f"Bearer {world.credentials['platform']}"},
        timeout=30,
    )
    assert link.status_code == 201, link.text
    with world.services.ledger._sessions() as session:
        row = session.get(ReportLink, link.json()["link_id"])
    assert row is not None
    assert row.expires_at - row.created_at == timedelta(hours=1)


@pytest.mark.parametrize(
    "ttl", [59, 86401, 0, -1, "3600", None], ids=["59", "86401", "0", "negative", "text", "null"]
)
def test_a_lifetime_out_of_bounds_is_refused(world: World, ttl: object) -> None:
    assert _error(_create(world, world.x, {"ttl_seconds": ttl})) == (422, "invalid_request")


@pytest.mark.parametrize("ttl", [60, 86400], ids=["60", "86400"])
def test_the_lifetime_bounds_are_taken(world: World, ttl: int) -> None:
    assert _create(world, world.x, {"ttl_seconds": ttl}).status_code == 201


def test_a_link_to_an_unknown_dispute_is_not_made(world: World) -> None:
    assert _error(_create(world, "dp_missing")) == (404, "dispute_not_found")


def test_an_agent_key_makes_no_link(world: World) -> None:
    answer = _create(world, world.x, key=world.credentials["agent"])
    assert _error(answer) == (403, "wrong_role")


def _mutations(token: str) -> list[str]:
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    return [
        flipped,
        token[:-1],
        token + "A",
        token.upper() if token.upper() != token else token.lower(),
        secrets.token_urlsafe(32),
        "",
        "../v1/disputes",
        "%2e%2e%2fv1",
        "A" * 5000,
    ]


def test_guessed_and_altered_tokens_all_get_the_same_404(world: World) -> None:
    token = _create(world, world.x).json()["url"].removeprefix("/r/")
    for candidate in _mutations(token):
        answer = _open(world, f"/r/{candidate}")
        if candidate in ("", "../v1/disputes", "%2e%2e%2fv1"):
            # Not this route at all (the client resolves ".."): no report, and no 5xx.
            assert answer.status_code in (401, 404, 405), candidate
            assert world.x not in answer.text
            continue
        assert _error(answer) == (404, "report_link_invalid"), candidate
        assert answer.headers["cache-control"] == "no-store", candidate
        assert "noindex" in answer.headers["x-robots-tag"], candidate


def test_a_link_of_one_dispute_reaches_nothing_else(world: World) -> None:
    token = _create(world, world.x).json()["url"].removeprefix("/r/")
    page = _open(world, f"/r/{token}", params={"dispute_id": world.y})
    assert world.x in page.text
    assert world.y not in page.text
    # The token is no credential anywhere else.
    for path in (f"{DISPUTES}/{world.y}", f"{DISPUTES}/{world.x}/workspace", DISPUTES):
        answer = _open(world, path, headers={"Authorization": f"Bearer {token}"})
        assert _error(answer) == (401, "credentials_invalid"), path
    deeper = _open(world, f"/r/{token}/{world.y}")
    assert deeper.status_code == 404
    assert world.y not in deeper.text


def test_a_revoked_link_stops_working_and_only_its_creator_revokes_it(world: World) -> None:
    link = _create(world, world.x).json()
    assert _open(world, link["url"]).status_code == 200
    # Another platform subject and an agent cannot revoke it; it still works.
    assert _error(_revoke(world, link["link_id"], world.other_platform)) == (
        404,
        "report_link_not_found",
    )
    assert _error(_revoke(world, link["link_id"], world.credentials["agent"])) == (
        403,
        "wrong_role",
    )
    assert _open(world, link["url"]).status_code == 200
    revoked = _revoke(world, link["link_id"], world.credentials["platform"])
    assert revoked.status_code == 200
    first = revoked.json()["revoked_at"]
    assert _error(_open(world, link["url"])) == (404, "report_link_invalid")
    # Revoking again keeps the first time; an unknown id is like another's.
    again = _revoke(world, link["link_id"], world.credentials["platform"])
    assert again.json()["revoked_at"] == first
    assert _error(_revoke(world, "rl_missing", world.credentials["platform"])) == (
        404,
        "report_link_not_found",
    )


def test_an_expired_link_answers_like_an_unknown_one(world: World) -> None:
    token = secrets.token_urlsafe(32)
    now = world.services.clock()
    world.services.ledger.agent_work.add_link(
        ReportLink(
            link_id=f"rl_{secrets.token_hex(8)}",
            token_sha256=hash_token(token),
            dispute_id=world.x,
            created_by="back-office",
            created_at=now - timedelta(hours=2),
            expires_at=now - timedelta(seconds=1),
        )
    )
    assert _error(_open(world, f"/r/{token}")) == (404, "report_link_invalid")


def test_the_expiry_boundary_one_second_either_side(world: World) -> None:
    service = ReportLinkService(
        disputes=world.services.verifier, work=world.services.ledger.agent_work
    )
    now = world.services.clock()
    link = service.create(world.x, ttl_seconds=60, owner="back-office", now=now)
    token = link.url.removeprefix("/r/")
    assert service.resolve(token, now=now + timedelta(seconds=59)) == world.x
    for late in (60, 61):
        with pytest.raises(NotFoundError) as caught:
            service.resolve(token, now=now + timedelta(seconds=late))
        assert caught.value.code == "report_link_invalid"


def test_the_link_shows_the_platform_view_without_agent_only_details(
    world: World, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A platform key makes the link, so the page says no more than the platform's own API:
    the other dispute that already holds the file stays with the agents."""
    work = tmp_path_factory.mktemp("links")
    shared = work / "shared.txt"
    shared.write_bytes(f"the same text {secrets.token_hex(8)}".encode())
    cast = world.cast
    ids = []
    for _ in range(2):
        order_id = flows.register_order(cast)
        created: dict[str, Any] = cast.platform.call(
            "POST",
            DISPUTES,
            json={
                "order_id": order_id,
                "buyer_id": cast.buyer_id,
                "claim_type": "damaged",
                "amount": "5.00",
                "currency": "USD",
            },
        )
        cast.platform.attach_file(created["dispute_id"], shared, filename="shared.txt")
        cast.platform.decide(created["dispute_id"])
        ids.append(created["dispute_id"])
    first, second = ids
    agent_report = httpx.get(
        f"{world.base}{DISPUTES}/{second}/report",
        headers={"Authorization": f"Bearer {world.credentials['agent']}"},
        timeout=30,
    )
    assert first in agent_report.text  # the agents' own report names it
    page = _open(world, _create(world, second).json()["url"])
    assert page.status_code == 200
    assert second in page.text
    assert first not in page.text


def test_an_oversized_body_is_refused_before_it_is_read(world: World) -> None:
    answer = httpx.post(
        f"{world.base}{DISPUTES}/{world.x}/report-links",
        headers={
            "Authorization": f"Bearer {world.credentials['platform']}",
            "Content-Type": "application/json",
        },
        content=b'{"ttl_seconds": 3600, "pad": "' + b"x" * 100_000 + b'"}',
        timeout=30,
    )
    assert _error(answer) == (413, "payload_too_large")


def test_live_links_per_subject_and_dispute_are_bounded(world: World) -> None:
    """Adversary: a platform key minting links in a loop to fill the ledger."""
    order_id = flows.register_order(world.cast)
    dispute_id = world.cast.platform.call(
        "POST",
        DISPUTES,
        json={
            "order_id": order_id,
            "buyer_id": world.cast.buyer_id,
            "claim_type": "damaged",
            "amount": "5.00",
            "currency": "USD",
        },
    )["dispute_id"]
    links = [_create(world, dispute_id) for _ in range(MAX_LIVE_LINKS)]
    assert [r.status_code for r in links] == [201] * MAX_LIVE_LINKS
    assert _error(_create(world, dispute_id)) == (409, "report_link_limit_reached")
    # The bound is the subject's: another platform subject still makes its own.
    assert _create(world, dispute_id, key=world.other_platform).status_code == 201
    # Revoking one frees its place; the links made before still open.
    assert _revoke(world, links[0].json()["link_id"], world.credentials["platform"]).is_success
    assert _create(world, dispute_id).status_code == 201
    assert _open(world, links[-1].json()["url"]).status_code == 200
