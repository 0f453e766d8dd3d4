"""The agents' workspace through the real app (issue 17 §1), each adversary beside the honest path.

- Decisions: approve/deny/request evidence on a ``review`` with a note, signed into the audit
  chain (verified afterwards), in the history, announced through the webhook outbox. Adversaries:
  deciding a dispute not in review, eight concurrent decisions (one wins), a 10 MB note, a
  platform key on the agent's routes (403 wrong_role), a later automatic verdict trying to
  overwrite the agent's decision.
- The queue: assignment (me, another agent, nobody; a subject with no agent key refused), "my
  queue", search by order and buyer, the cursor (tampered, other filters refused).
- The workspace document: plain-word checks, which dispute already holds a reused file, the
  timeline in one time form, the submitted bytes with safe headers.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from infra.ledger.webhook_models import WebhookEvent
from infra.settings import Settings
from orderseal.samples import make_jpeg
from orderseal.services import Services
from tests.support import flows
from tests.support.cli import run_main

DISPUTES = "/v1/disputes"
_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@dataclass
class World:
    base: str
    cast: flows.Actors
    services: Services
    settings: Settings
    agent: str
    platform: str
    agent_subject: str
    shipped: flows.Shipped
    sealed: list[Path]
    work: Path
    credentials: dict[str, str]


def _headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def world(
    live_api: str,
    credentials: dict[str, str],
    services: Services,
    settings: Settings,
    tmp_path_factory: pytest.TempPathFactory,
) -> World:
    work = tmp_path_factory.mktemp("agent")
    cast = flows.actors(live_api, credentials)
    shipped = flows.ship(cast, flows.register_order(cast), work)
    sealed = flows.receive(cast, shipped, work)
    subject = next(k.subject for k in services.ledger.api_keys.list_keys() if k.role == "agent")
    return World(
        live_api,
        cast,
        services,
        settings,
        credentials["agent"],
        credentials["platform"],
        subject,
        shipped,
        sealed,
        work,
        credentials,
    )


def _call(
    world: World,
    method: str,
    path: str,
    *,
    key: str | None = None,
    headers: dict[str, str] | None = None,
    **kw: Any,
) -> httpx.Response:
    sent = _headers(key or world.agent) | (headers or {})
    return httpx.request(method, f"{world.base}{path}", headers=sent, timeout=30, **kw)


def _error(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def _file(world: World, name: str, data: bytes) -> Path:
    path = world.work / f"{secrets.token_hex(4)}-{name}"
    path.write_bytes(data)
    return path


def _review(world: World, *, order_id: str | None = None, text: bytes | None = None) -> str:
    """A dispute decided ``review`` (a text file is unsupported media, so a person looks)."""
    created = world.cast.platform.call(
        "POST",
        DISPUTES,
        json={
            "order_id": order_id or world.shipped.order_id,
            "buyer_id": world.cast.buyer_id,
            "claim_type": "damaged",
            "amount": "10.00",
            "currency": "USD",
        },
    )
    dispute_id: str = created["dispute_id"]
    body = text if text is not None else f"note {secrets.token_hex(8)}".encode()
    world.cast.platform.attach_file(dispute_id, _file(world, "x.txt", body), filename="x.txt")
    decided = world.cast.platform.decide(dispute_id)
    assert decided["decision"] == "review"
    return dispute_id


def _decide(world: World, dispute_id: str, action: str, note: str = "checked") -> httpx.Response:
    return _call(
        world,
        "POST",
        f"{DISPUTES}/{dispute_id}/agent-decision",
        json={"action": action, "note": note},
    )


def _dispute(world: World, dispute_id: str) -> dict[str, Any]:
    seen: dict[str, Any] = world.cast.platform.call("GET", f"{DISPUTES}/{dispute_id}")
    return seen


def _redecide(world: World, dispute_id: str) -> dict[str, Any]:
    again: dict[str, Any] = world.cast.platform.call("POST", f"{DISPUTES}/{dispute_id}/decide")
    return again


def _events(world: World, dispute_id: str) -> list[WebhookEvent]:
    with world.services.ledger._sessions() as session:
        return [
            e
            for e in session.query(WebhookEvent).order_by(WebhookEvent.created_at).all()
            if dispute_id in e.body
        ]


# Decisions -------------------------------------------------------------------------------------
def test_an_agent_approves_a_review_and_the_audit_chain_verifies_it(world: World) -> None:
    dispute_id = _review(world)
    answer = _decide(world, dispute_id, "approve", "Unboxing photo matches the packing photo.")
    assert answer.status_code == 201, answer.text
    decision = answer.json()
    assert (decision["decision"], decision["previous_decision"]) == ("allow", "review")
    assert decision["agent"] == world.agent_subject
    assert decision["key_id"].startswith("kid_")
    assert _UTC.match(decision["decided_at"])
    # The platform sees the new decision and why, without the note.
    seen = _dispute(world, dispute_id)
    assert seen["decision"] == "allow"
    last = seen["history"][-1]
    assert last["change_reason"] == "agent_decision"
    assert last["agent_decision"] == {"decision_id": decision["decision_id"], "action": "approve"}
    # Agents see who and why.
    agent_view = _call(world, "GET", f"{DISPUTES}/{dispute_id}/report.json").json()
    assert agent_view["history"][-1]["agent_decision"]["note"].startswith("Unboxing photo")
    # The decision is a signed entry of the chain, with the agent's identity and note inside.
    entry, body = world.services.ledger.audit_entries()[-1]
    assert entry.dispute_id == dispute_id
    assert '"agent_decision"' in body
    assert world.agent_subject in body
    assert decision["key_id"] in body
    audit = run_main(world.settings, "audit", "verify")
    assert audit.returncode == 0, audit.stdout + audit.stderr
    # The webhook outbox has the change, in the same transaction as the verdict.
    kinds = [
        (e.event_type, '"agent_action":"approve"' in e.body) for e in _events(world, dispute_id)
    ]
    assert kinds == [("dispute.decided", False), ("dispute.decision_changed", True)]


def test_deny_blocks(world: World) -> None:
    dispute_id = _review(world)
    assert _decide(world, dispute_id, "deny", "No sealed unboxing.").status_code == 201
    assert _dispute(world, dispute_id)["decision"] == "block"


def test_a_request_for_evidence_waits_then_the_next_verdict_applies(world: World) -> None:
    dispute_id = _review(world)
    answer = _decide(world, dispute_id, "request_evidence", "Please send the unboxing video.")
    assert answer.status_code == 201
    assert answer.json()["decision"] == "review"
    space = _call(world, "GET", f"{DISPUTES}/{dispute_id}/workspace").json()
    assert (space["dispute"]["status"], space["dispute"]["decision"]) == (
        "awaiting_evidence",
        "review",
    )
    assert [e["event"] for e in space["timeline"]][-1] == "evidence_requested"
    listed = _call(world, "GET", DISPUTES, params={"order_id": world.shipped.order_id}).json()
    assert next(d for d in listed["disputes"] if d["dispute_id"] == dispute_id)["awaiting_evidence"]
    # The platform attaches the sealed unboxing and decides: that verdict applies.
    world.cast.platform.call(
        "POST",
        f"{DISPUTES}/{dispute_id}/sealed",
        json={
            "evidence_ids": [
                world.services.ledger.evidence_for_order(world.shipped.order_id, "receipt")[
                    0
                ].evidence_id
            ]
        },
    )
    again = _redecide(world, dispute_id)
    assert again["history"][-1].get("agent_decision_stands") is None
    space = _call(world, "GET", f"{DISPUTES}/{dispute_id}/workspace").json()
    assert space["dispute"]["status"] == "decided"


def test_a_request_for_evidence_is_not_repeated_before_the_evidence_comes(world: World) -> None:
    """Adversary: an agent key asking for evidence in a loop, each request a signed verdict in
    the audit chain and a dispute.decision_changed webhook while nothing changed."""
    dispute_id = _review(world)
    assert _decide(world, dispute_id, "request_evidence", "Send the video.").status_code == 201
    verdicts = len(world.services.ledger.verdicts(dispute_id))
    events = len(_events(world, dispute_id))
    for _ in range(3):
        again = _decide(world, dispute_id, "request_evidence", "Send it now.")
        assert _error(again) == (409, "evidence_already_requested")
    assert len(world.services.ledger.verdicts(dispute_id)) == verdicts
    assert len(_events(world, dispute_id)) == events
    # Deciding is still open to the agent meanwhile.
    assert _decide(world, dispute_id, "deny", "No video came.").status_code == 201
    assert _dispute(world, dispute_id)["decision"] == "block"


def test_a_later_automatic_verdict_keeps_the_agents_decision(world: World) -> None:
    dispute_id = _review(world)
    assert _decide(world, dispute_id, "deny", "Looks staged.").status_code == 201
    events_before = len(_events(world, dispute_id))
    again = _redecide(world, dispute_id)
    assert again["decision"] == "block"  # the agent's decision stands
    assert again["history"][-1]["agent_decision_stands"] is True
    assert again["history"][-1]["decision"] == "review"  # the verifier's, kept in history
    assert again["verdict"]["decision"] == "block"  # the verdict in force is the agent's
    assert len(_events(world, dispute_id)) == events_before  # nothing changed for the platform
    audit = run_main(world.settings, "audit", "verify")
    assert audit.returncode == 0, audit.stdout + audit.stderr


def test_a_dispute_not_in_review_is_refused(world: World) -> None:
    open_dispute = world.cast.platform.call(
        "POST",
        DISPUTES,
        json={
            "order_id": world.shipped.order_id,
            "buyer_id": world.cast.buyer_id,
            "claim_type": "damaged",
            "amount": "1.00",
            "currency": "USD",
        },
    )["dispute_id"]
    assert _error(_decide(world, open_dispute, "approve")) == (409, "dispute_not_in_review")
    decided = _review(world)
    assert _decide(world, decided, "approve").status_code == 201
    assert _error(_decide(world, decided, "deny")) == (409, "dispute_not_in_review")
    assert _error(_decide(world, "dp_missing", "deny")) == (404, "dispute_not_found")


def test_concurrent_decisions_give_one_decision(world: World) -> None:
    dispute_id = _review(world)
    verdicts_before = len(world.services.ledger.verdicts(dispute_id))
    answers: list[int] = []
    barrier = threading.Barrier(8)

    def decide(index: int) -> None:
        barrier.wait()
        answers.append(_decide(world, dispute_id, "approve" if index % 2 else "deny").status_code)

    threads = [threading.Thread(target=decide, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [201] + [409] * 7
    assert len(world.services.ledger.verdicts(dispute_id)) == verdicts_before + 1
    assert len(world.services.ledger.agent_work.decisions(dispute_id)) == 1
    audit = run_main(world.settings, "audit", "verify")
    assert audit.returncode == 0, audit.stdout + audit.stderr


@pytest.mark.parametrize(
    "body",
    [
        {"action": "approve", "note": "x" * 2001},
        {"action": "approve", "note": ""},
        {"action": "approve", "note": " \n\t "},
        {"action": "approve"},
        {"action": "escalate", "note": "n"},
        {"action": "approve", "note": "n", "extra": 1},
        {"action": "approve", "note": "ok\x00hidden"},
        {"action": "approve", "note": "fine\x1b[2Jcleared"},
    ],
    ids=["2001-chars", "empty", "blank", "no-note", "unknown-action", "extra-key", "nul", "escape"],
)
def test_bad_decision_bodies_are_refused(world: World, body: dict[str, Any]) -> None:
    dispute_id = _review(world)
    answer = _call(world, "POST", f"{DISPUTES}/{dispute_id}/agent-decision", json=body)
    assert _error(answer) == (422, "invalid_request")
    assert _dispute(world, dispute_id)["decision"] == "review"


def test_a_10_mb_note_is_refused_before_it_is_read(world: World) -> None:
    dispute_id = _review(world)
    path = f"{DISPUTES}/{dispute_id}/agent-decision"
    big = {"action": "approve", "note": "x" * 10_000_000}
    assert _error(_call(world, "POST", path, json=big)) == (413, "payload_too_large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: cut off at the limit
        yield b'{"action": "approve", "note": "'
        for _ in range(200):
            yield b"x" * 65536
        yield b'"}'

    chunked = _call(
        world, "POST", path, content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert _error(chunked) == (413, "payload_too_large")
    assert _dispute(world, dispute_id)["decision"] == "review"


def test_a_note_of_2000_characters_is_taken(world: World) -> None:
    dispute_id = _review(world)
    assert _decide(world, dispute_id, "approve", "n" * 2000).status_code == 201


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/disputes", None),
        ("GET", "/v1/disputes/{id}/workspace", None),
        ("GET", "/v1/disputes/{id}/submitted/" + "0" * 64, None),
        ("POST", "/v1/disputes/{id}/agent-decision", {"action": "approve", "note": "n"}),
        ("POST", "/v1/disputes/{id}/assignment", {"agent": "me"}),
    ],
    ids=["list", "workspace", "submitted", "decision", "assignment"],
)
def test_a_platform_key_on_an_agent_route_is_the_wrong_role(
    world: World, method: str, path: str, body: dict[str, Any] | None
) -> None:
    dispute_id = _review(world)
    answer = _call(world, method, path.format(id=dispute_id), key=world.platform, json=body)
    assert _error(answer) == (403, "wrong_role")
    assert _dispute(world, dispute_id)["decision"] == "review"


# The queue -----------------------------------------------------------------------------------
def _assign(world: World, dispute_id: str, agent: str | None) -> httpx.Response:
    return _call(world, "POST", f"{DISPUTES}/{dispute_id}/assignment", json={"agent": agent})


def test_assignment_and_my_queue(world: World) -> None:
    order_id = flows.register_order(world.cast)
    mine, theirs, nobody = (_review(world, order_id=order_id) for _ in range(3))
    other = world.services.ledger.api_keys.issue(
        role="agent", subject="agent-two", now=world.services.clock()
    )
    assigned = _assign(world, mine, "me")
    assert assigned.status_code == 200
    assert assigned.json()["agent"] == world.agent_subject
    assert _UTC.match(assigned.json()["assigned_at"])
    assert _assign(world, theirs, "agent-two").json()["agent"] == "agent-two"
    queue = _call(
        world,
        "GET",
        DISPUTES,
        params={"assigned": "me", "decision": "review", "order_id": order_id},
    ).json()
    assert [d["dispute_id"] for d in queue["disputes"]] == [mine]
    assert queue["disputes"][0]["assigned_to"] == world.agent_subject
    # The other agent's "me" is theirs.
    their_queue = _call(
        world, "GET", DISPUTES, key=other.secret, params={"assigned": "me", "order_id": order_id}
    ).json()
    assert [d["dispute_id"] for d in their_queue["disputes"]] == [theirs]
    unassigned = _call(
        world, "GET", DISPUTES, params={"assigned": "none", "order_id": order_id}
    ).json()
    assert [d["dispute_id"] for d in unassigned["disputes"]] == [nobody]
    # Unassign: back to nobody's.
    assert _assign(world, mine, None).json()["agent"] is None
    unassigned = _call(
        world, "GET", DISPUTES, params={"assigned": "none", "order_id": order_id}
    ).json()
    assert sorted(d["dispute_id"] for d in unassigned["disputes"]) == sorted([mine, nobody])


@pytest.mark.parametrize(
    ("agent", "expected"),
    [
        ("nobody-here", (422, "agent_unknown")),
        ("me; DROP TABLE", (422, "invalid_request")),
    ],
    ids=["no-such-agent", "not-a-subject"],
)
def test_assignment_to_a_subject_that_is_no_agent_is_refused(
    world: World, agent: str, expected: tuple[int, str]
) -> None:
    dispute_id = _review(world)
    assert _error(_assign(world, dispute_id, agent)) == expected
    space = _call(world, "GET", f"{DISPUTES}/{dispute_id}/workspace").json()
    assert space["dispute"]["assignment"] is None


def test_a_platform_subject_is_no_agent(world: World) -> None:
    platform_subject = next(
        k.subject for k in world.services.ledger.api_keys.list_keys() if k.role == "platform"
    )
    assert platform_subject != world.agent_subject
    assert _error(_assign(world, _review(world), platform_subject)) == (422, "agent_unknown")


def test_assigning_an_unknown_dispute_is_not_found(world: World) -> None:
    assert _error(_assign(world, "dp_missing", "me")) == (404, "dispute_not_found")


def test_the_listing_searches_and_pages_with_the_cursor(world: World) -> None:
    buyer = flows.actors(world.base, world.credentials)
    order_id = flows.register_order(buyer)
    ids = []
    for _ in range(5):
        created = buyer.platform.call(
            "POST",
            DISPUTES,
            json={
                "order_id": order_id,
                "buyer_id": buyer.buyer_id,
                "claim_type": "damaged",
                "amount": "1.00",
                "currency": "USD",
            },
        )
        ids.append(created["dispute_id"])
    seen: list[str] = []
    page = _call(world, "GET", DISPUTES, params={"buyer_id": buyer.buyer_id, "limit": 2}).json()
    pages = 1
    while page["next_cursor"]:
        seen += [d["dispute_id"] for d in page["disputes"]]
        cursor = page["next_cursor"]
        page = _call(
            world,
            "GET",
            DISPUTES,
            params={"buyer_id": buyer.buyer_id, "limit": 2, "cursor": cursor},
        ).json()
        pages += 1
    seen += [d["dispute_id"] for d in page["disputes"]]
    assert sorted(seen) == sorted(ids)
    assert len(seen) == len(set(seen))
    assert pages == 3
    by_order = _call(world, "GET", DISPUTES, params={"order_id": order_id}).json()
    assert sorted(d["dispute_id"] for d in by_order["disputes"]) == sorted(ids)
    # A cursor of other filters, an altered one, an unknown parameter: refused.
    first = _call(world, "GET", DISPUTES, params={"buyer_id": buyer.buyer_id, "limit": 2}).json()
    other = {"order_id": order_id, "limit": 2, "cursor": first["next_cursor"]}
    assert _error(_call(world, "GET", DISPUTES, params=other)) == (422, "cursor_invalid")
    altered = first["next_cursor"][:-1] + ("0" if first["next_cursor"][-1] != "0" else "1")
    params = {"buyer_id": buyer.buyer_id, "limit": 2, "cursor": altered}
    assert _error(_call(world, "GET", DISPUTES, params=params)) == (422, "cursor_invalid")
    assert _error(_call(world, "GET", DISPUTES, params={"offset": 2})) == (422, "invalid_request")


# The workspace -------------------------------------------------------------------------------
def test_the_workspace_shows_one_screen_in_plain_words(world: World) -> None:
    # The same text file on a dispute of another order: the workspace says which one.
    shared = f"shared {secrets.token_hex(8)}".encode()
    other_order = flows.register_order(world.cast)
    earlier = _review(world, order_id=other_order, text=shared)
    created = world.cast.platform.call(
        "POST",
        DISPUTES,
        json={
            "order_id": world.shipped.order_id,
            "buyer_id": world.cast.buyer_id,
            "claim_type": "damaged",
            "amount": "10.00",
            "currency": "USD",
        },
    )
    dispute_id = created["dispute_id"]
    world.cast.platform.attach_file(dispute_id, _file(world, "s.txt", shared), filename="s.txt")
    world.cast.platform.attach_file(dispute_id, world.sealed[0], filename="unbox.jpg")
    world.cast.platform.decide(dispute_id)
    assert _assign(world, dispute_id, "me").status_code == 200
    space = _call(world, "GET", f"{DISPUTES}/{dispute_id}/workspace").json()

    dispute = space["dispute"]
    assert dispute["dispute_id"] == dispute_id
    assert dispute["assignment"]["agent"] == world.agent_subject
    assert dispute["workspace_url"] == f"/agent#dispute={dispute_id}"
    assert _UTC.match(dispute["filed_at"])
    assert _UTC.match(dispute["decided_at"])
    # Checks in plain words; a code only on a failed check; no internal name as the label.
    checks = space["verdict"]["checks"]
    assert checks
    assert all(("code" in c) == (not c["passed"]) for c in checks)
    assert all(c["label"] != c["check"] for c in checks)
    assert not any("c2pa" in c["explanation"].lower() for c in checks)
    reuse = next(c for c in checks if c["check"] == "reuse" and not c["passed"])
    assert reuse["code"] == "evidence_reused"
    assert reuse["related_disputes"] == [earlier]
    related = {(r["dispute_id"], r["relation"]) for r in space["related_disputes"]}
    assert (earlier, "evidence_reused") in related
    assert (earlier, "same_buyer") in related
    reused = next(
        r
        for r in space["related_disputes"]
        if (r["dispute_id"], r["relation"]) == (earlier, "evidence_reused")
    )
    assert earlier in reused["detail"]
    assert other_order in reused["detail"]
    # Submitted files and the sealed originals, each with its URL.
    submitted = {f["filename"]: f for f in space["submitted_files"]}
    assert set(submitted) == {"s.txt", "unbox.jpg"}
    assert submitted["unbox.jpg"]["url"].endswith(submitted["unbox.jpg"]["content_sha256"])
    stages = sorted(o["stage"] for o in space["sealed_originals"])
    assert stages == ["receipt", "shipment"]
    assert all(o["file_url"].startswith("/v1/evidence/") for o in space["sealed_originals"])
    # The timeline, oldest first, one time form.
    events = [e["event"] for e in space["timeline"]]
    for expected in ("packed", "label_printed", "label_scanned", "unboxed", "filed", "decided"):
        assert expected in events, expected
    assert events.index("packed") < events.index("unboxed") < events.index("filed")
    times = [e["at"] for e in space["timeline"]]
    assert all(_UTC.match(t) for t in times)
    assert times == sorted(times)
    assert space["policy_trace"]
    assert all(r["label"] for r in space["policy_trace"])
    assert space["agent_decisions"] == []
    assert space["merchant_responses"] == []


def test_an_unknown_dispute_has_no_workspace(world: World) -> None:
    assert _error(_call(world, "GET", f"{DISPUTES}/dp_missing/workspace")) == (
        404,
        "dispute_not_found",
    )


def test_the_submitted_bytes_stream_with_safe_headers(world: World) -> None:
    dispute_id = _review(world, text=b"<html><script>alert(1)</script></html>")
    world.cast.platform.attach_file(dispute_id, world.sealed[0], filename="unbox.jpg")
    space = _call(world, "GET", f"{DISPUTES}/{dispute_id}/workspace").json()
    files = {f["filename"]: f for f in space["submitted_files"]}
    photo = _call(world, "GET", files["unbox.jpg"]["url"])
    assert photo.status_code == 200
    assert photo.content == world.sealed[0].read_bytes()
    assert photo.headers["content-type"] == "image/jpeg"
    assert photo.headers["content-disposition"] == "inline"
    assert photo.headers["x-content-type-options"] == "nosniff"
    # What the buyer sent as HTML is never served as a page.
    page = _call(world, "GET", files["x.txt"]["url"])
    assert page.content.startswith(b"<html>")
    assert page.headers["content-type"] == "application/octet-stream"
    assert page.headers["content-disposition"].startswith("attachment")
    assert "sandbox" in page.headers["content-security-policy"]


@pytest.mark.parametrize(
    ("dispute", "sha", "expected"),
    [
        ("dp_missing", "0" * 64, (404, "dispute_not_found")),
        ("own", "0" * 64, (404, "attachment_not_found")),
        ("other", None, (404, "attachment_not_found")),
        ("own", "NOT-A-SHA", (422, "invalid_request")),
    ],
    ids=["unknown-dispute", "not-attached", "another-disputes-file", "not-a-sha256"],
)
def test_a_submitted_file_is_reached_only_through_its_dispute(
    world: World, dispute: str, sha: str | None, expected: tuple[int, str]
) -> None:
    own = _review(world)
    other = _review(world, text=b"the other dispute's file " + secrets.token_hex(4).encode())
    other_sha = world.services.ledger.attachments(other)[0].content_sha256
    dispute_id = {"own": own, "other": own, "dp_missing": "dp_missing"}[dispute]
    path = f"{DISPUTES}/{dispute_id}/submitted/{sha or other_sha}"
    assert _error(_call(world, "GET", path)) == expected


def test_platform_report_url_opens_the_agent_page(world: World) -> None:
    dispute_id = _review(world)
    seen = _dispute(world, dispute_id)
    assert seen["report_url"] == f"{world.settings.base_url}/agent#dispute={dispute_id}"
    page = httpx.get(seen["report_url"].split("#")[0])
    assert page.status_code == 200


def test_workspace_times_are_whole_seconds_in_utc(world: World) -> None:
    dispute_id = _review(world)
    text = _call(world, "GET", f"{DISPUTES}/{dispute_id}/workspace").text
    assert "+00:00" not in text
    assert not re.search(r"T\d\d:\d\d:\d\d\.\d", text)


def test_expired_assignment_key_is_no_agent(world: World) -> None:
    now = world.services.clock()
    world.services.ledger.api_keys.issue(
        role="agent",
        subject="agent-expired",
        now=now - timedelta(days=2),
        expires_at=now - timedelta(seconds=1),
    )
    assert _error(_assign(world, _review(world), "agent-expired")) == (422, "agent_unknown")


def test_the_queue_searches_by_seller_and_the_workspace_shows_its_answer(world: World) -> None:
    now = world.services.clock()
    merchant = f"m-shop-{secrets.token_hex(3)}"
    world.services.ledger.merchants.add(merchant, name="Shop", now=now)
    order_id = f"ORD-{secrets.token_hex(4).upper()}"
    world.cast.platform.call(
        "POST",
        "/v1/orders",
        json={
            "order_id": order_id,
            "buyer_id": world.cast.buyer_id,
            "items": [{"sku": "SKU-1", "quantity": 1}],
            "declared_value": "10.00",
            "currency": "USD",
            "merchant_id": merchant,
        },
    )
    theirs = _review(world, order_id=order_id)
    _review(world)  # an order of the default merchant
    listed = _call(world, "GET", DISPUTES, params={"merchant_id": merchant}).json()
    assert [d["dispute_id"] for d in listed["disputes"]] == [theirs]
    assert _call(world, "GET", DISPUTES, params={"merchant_id": "m-nobody"}).json() == {
        "disputes": [],
        "next_cursor": None,
    }
    world.services.ledger.merchants.add_response(
        theirs,
        merchant_id=merchant,
        statement="Packed intact; see the sealed packing video.",
        evidence_ids=[],
        created_by="shop-admin",
        now=now,
        max_responses=50,
    )
    space = _call(world, "GET", f"{DISPUTES}/{theirs}/workspace").json()
    assert [r["statement"] for r in space["merchant_responses"]] == [
        "Packed intact; see the sealed packing video."
    ]
    assert space["merchant_responses"][0]["merchant_id"] == merchant
    assert "merchant_response" in [e["event"] for e in space["timeline"]]


def test_a_near_copy_on_another_orders_dispute_names_that_dispute(world: World) -> None:
    """A re-encoded, resized copy of a picture (new bytes, same scene) on another order."""
    original = make_jpeg(
        world.work / f"{secrets.token_hex(4)}-crab.jpg", seed=4242, size=(320, 240)
    )
    copy = world.work / f"{secrets.token_hex(4)}-crab-copy.jpg"
    with Image.open(original) as image:
        image.resize((300, 225)).save(copy, quality=60)
    assert copy.read_bytes() != original.read_bytes()

    def filed(order_id: str, path: Path) -> str:
        created = world.cast.platform.call(
            "POST",
            DISPUTES,
            json={
                "order_id": order_id,
                "buyer_id": world.cast.buyer_id,
                "claim_type": "damaged",
                "amount": "10.00",
                "currency": "USD",
            },
        )
        world.cast.platform.attach_file(created["dispute_id"], path, filename=path.name)
        world.cast.platform.decide(created["dispute_id"])
        dispute_id: str = created["dispute_id"]
        return dispute_id

    earlier = filed(flows.register_order(world.cast), original)
    later = filed(world.shipped.order_id, copy)
    space = _call(world, "GET", f"{DISPUTES}/{later}/workspace").json()
    reuse = next(c for c in space["verdict"]["checks"] if c["check"] == "reuse")
    assert (reuse["passed"], reuse["code"]) == (False, "evidence_reused")
    assert reuse["related_disputes"] == [earlier]
    link = next(r for r in space["related_disputes"] if r["relation"] == "evidence_reused")
    assert link["dispute_id"] == earlier
    assert "near-identical" in link["detail"]
