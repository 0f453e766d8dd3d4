"""Typed versus scanned label codes (issue 18 §4), through the real app and verifier.

The buyer's page says how it got the label token when it opens the receipt session:
``scanned`` (its camera), ``link`` (the phone's camera opened our label URL) or ``typed``.
The session id records it, each receipt seal carries it as ``label_entry``, the verdict
reviews a typed one (``label_typed``) and the agent's timeline says "typed".

Adversary: the page is the buyer's and may lie. A typed code declared ``scanned`` cannot be
told apart, so the marker earns nothing (a scanned receipt is judged as before it existed);
what a client may not do is send a value outside the three, which is refused with a stable
code before any session opens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from clients.client import BuyerClient
from orderseal.samples import make_jpeg
from orderseal.services import Services
from tests.support import flows


@pytest.fixture(scope="module")
def cast(live_api: str, credentials: dict[str, str]) -> flows.Actors:
    return flows.actors(live_api, credentials)


def _open(buyer: BuyerClient, token: str, entry: object) -> httpx.Response:
    body: dict[str, Any] = {"token": token}
    if entry is not None:
        body["entry"] = entry
    return buyer.http.post("/v1/receipt-sessions", json=body)


def _receive(cast: flows.Actors, work: Path, entry: str | None) -> tuple[dict[str, Any], Path]:
    """Ship an order, open its receipt with ``entry``, seal one photo; the session and file."""
    shipped = flows.ship(cast, flows.register_order(cast), work)
    buyer = cast.buyer()
    response = _open(buyer, shipped.label_token, entry)
    assert response.status_code == 201
    session: dict[str, Any] = response.json()
    photo = make_jpeg(work / f"{shipped.order_id}-unbox.jpg", seed=len(shipped.order_id) + 41)
    sealed = buyer.upload(session, photo, title="unbox.jpg")
    out = work / f"{shipped.order_id}-sealed.jpg"
    out.write_bytes(buyer.download(session, sealed["evidence_id"]))
    buyer.finish(session)
    receipt = buyer.http.get(f"/v1/receipt-sessions/{session['session_id']}/receipt").json()
    assert receipt["label_entry"] == session["label_entry"]
    return session | {"order_id": shipped.order_id}, out


def _recorded(services: Services, session: dict[str, Any]) -> str | None:
    """The entry the ledger's session row records."""
    row = services.ledger.get_session(session["session_id"])
    assert row is not None
    return row.label_entry


def test_a_typed_label_code_is_sealed_as_typed_and_reviewed(
    cast: flows.Actors, tmp_path: Path, credentials: dict[str, str], services: Services
) -> None:
    session, sealed = _receive(cast, tmp_path, "typed")
    assert (session["label_entry"], _recorded(services, session)) == ("typed", "typed")
    decided = flows.dispute(cast, session["order_id"], [sealed])
    assert decided["verdict"]["decision"] == "review"
    assert "label_typed" in flows.codes(decided)
    space = httpx.get(
        f"{cast.base_url}/v1/disputes/{decided['dispute_id']}/workspace",
        headers={"Authorization": f"Bearer {credentials['agent']}"},
        timeout=30,
    ).json()
    events = [e["event"] for e in space["timeline"]]
    assert "label_typed" in events
    assert "label_scanned" not in events


@pytest.mark.parametrize(
    "entry", [None, "scanned", "link"], ids=["absent", "scanned", "label-link"]
)
def test_a_scanned_or_linked_label_is_judged_as_before(
    cast: flows.Actors, tmp_path: Path, entry: str | None, services: Services
) -> None:
    session, sealed = _receive(cast, tmp_path, entry)
    assert (session["label_entry"], _recorded(services, session)) == (entry or "scanned",) * 2
    decided = flows.dispute(cast, session["order_id"], [sealed])
    assert decided["verdict"]["decision"] == "allow"
    assert "label_typed" not in flows.codes(decided)


@pytest.mark.parametrize(
    "claim",
    ["official", "SCANNED", "", 1, ["scanned"], {"entry": "scanned"}],
    ids=["official", "upper-case", "empty", "number", "list", "object"],
)
def test_an_entry_outside_the_three_is_refused_before_any_session(
    cast: flows.Actors, tmp_path: Path, claim: object
) -> None:
    shipped = flows.ship(cast, flows.register_order(cast), tmp_path)
    response = _open(cast.buyer(), shipped.label_token, claim)
    assert (response.status_code, response.json()["error"]["code"]) == (422, "invalid_request")


def test_the_buyer_sdk_declares_how_the_label_was_entered(
    cast: flows.Actors, tmp_path: Path, services: Services
) -> None:
    shipped = flows.ship(cast, flows.register_order(cast), tmp_path)
    session = cast.buyer().open_receipt(shipped.label_token, entry="typed")
    assert (session["label_entry"], _recorded(services, dict(session))) == ("typed", "typed")
