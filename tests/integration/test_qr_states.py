"""``POST /v1/qr/check`` tells the buyer's states apart (issue 18 §4): only ``official`` opens.

The buyer's own expired label and a family member's genuine label are not scam cards; a
forged token, a foreign URL and a genuine token in a look-alike URL are (``not_official``),
and only that answer carries the platform's help link to the page's scam warning.

Adversaries: a scam card copying a real label (forged signature, or a real token in a URL
that is not ours) must never read as ``other_account`` or ``expired``, which would tell the
buyer "genuine"; and a stranger's label must not name its order or items.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from capture.label_url import label_url
from capture.tokens import issue_label_token
from clients.client import APIError
from infra.settings import Settings
from keys.attestation import b64url_encode
from orderseal.services import Services
from tests.conftest import make_settings
from tests.support import flows
from tests.support.keys_cli import check_keys

HELP_URL = "https://help.platform.example/after-sales"


@pytest.fixture(scope="module")
def settings(
    module_home: Path, database_url: str, storage_overrides: dict[str, object]
) -> Settings:
    """The module's settings with the platform help page and a 2-minute video limit."""
    return make_settings(
        module_home,
        database_url=database_url,
        buyer_help_url=HELP_URL,
        buyer_video_seconds=120,
        **storage_overrides,
    )


@pytest.fixture(scope="module")
def cast(live_api: str, credentials: dict[str, str]) -> flows.Actors:
    return flows.actors(live_api, credentials)


@pytest.fixture(scope="module")
def shipped(cast: flows.Actors, tmp_path_factory: pytest.TempPathFactory) -> flows.Shipped:
    return flows.ship(cast, flows.register_order(cast), tmp_path_factory.mktemp("qr"))


def _check(cast: flows.Actors, payload: str) -> dict[str, Any]:
    token = flows.buyer_token_response(cast.platform, cast.buyer_id)["token"]
    response = httpx.post(
        f"{cast.base_url}/v1/qr/check",
        json={"payload": payload},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    return answer


def _expired_label(services: Services, order_id: str) -> str:
    """A genuine label of ``order_id`` (our key signs it) that expired a second ago."""
    now = services.clock()
    return issue_label_token(
        services.capture.sealer.signer,
        order_id=order_id,
        session_id="ss_old",
        now=now - timedelta(days=1, seconds=1),
        ttl=timedelta(days=1),
    )


def test_my_label_is_official_with_its_items_and_limits(
    cast: flows.Actors, shipped: flows.Shipped
) -> None:
    answer = _check(cast, shipped.label_token)
    assert (answer["official"], answer["state"]) == (True, "official")
    assert answer["order_id"] == shipped.order_id
    assert answer["items"] == [{"sku": "SKU-1", "quantity": 1}]
    assert answer["max_video_seconds"] == 120
    assert answer["max_video_bytes"] > 0
    assert answer["help_url"] == HELP_URL


def test_my_expired_label_is_expired_not_a_scam(
    cast: flows.Actors, shipped: flows.Shipped, services: Services
) -> None:
    answer = _check(cast, _expired_label(services, shipped.order_id))
    assert (answer["official"], answer["state"]) == (False, "expired")
    assert answer["order_id"] == shipped.order_id
    # It opens nothing: the session route still refuses it.
    with pytest.raises(APIError) as caught:
        cast.buyer().open_receipt(_expired_label(services, shipped.order_id))
    assert (caught.value.status, caught.value.code) == (401, "token_expired")


def test_someone_elses_label_is_another_account_and_names_nothing(
    live_api: str,
    credentials: dict[str, str],
    cast: flows.Actors,
    services: Services,
    tmp_path: Path,
) -> None:
    family = flows.actors(live_api, credentials)
    theirs = flows.ship(family, flows.register_order(family), tmp_path)
    for payload in (theirs.label_token, _expired_label(services, theirs.order_id)):
        answer = _check(cast, payload)
        assert (answer["official"], answer["state"]) == (False, "other_account")
        assert (answer["order_id"], answer["items"]) == (None, [])


def test_scam_cards_are_not_official_whatever_they_copy(
    cast: flows.Actors, shipped: flows.Shipped
) -> None:
    prefix, body, _signature = shipped.label_token.split(".")
    expired_body = b64url_encode(
        json.dumps({"o": shipped.order_id, "s": "ss_x", "exp": 1}, separators=(",", ":")).encode()
    )
    lures = [
        "https://after-sales-refund.example/claim?case=88231",
        f"{prefix}.{body}.{'A' * 86}",  # a real label's body with a made-up signature
        f"{prefix}.{expired_body}.{'A' * 86}",  # "expired", but not signed by us
        f"https://after-sales-refund.example/capture#t={shipped.label_token}",
        shipped.order_id,
    ]
    for lure in lures:
        answer = _check(cast, lure)
        assert (answer["official"], answer["state"]) == (False, "not_official"), lure
        assert (answer["order_id"], answer["items"]) == (None, [])
        assert answer["help_url"] == HELP_URL


def test_a_label_signed_by_a_revoked_key_is_revoked_with_the_help_link(
    cast: flows.Actors, shipped: flows.Shipped, services: Services, settings: Settings
) -> None:
    """Last in the module: the module's sealing key is revoked from here on.

    A genuine label whose signing key was withdrawn could have been printed by whoever stole
    the key: it reads ``revoked`` (never ``official``), carries the help link the page shows
    with its warning, and opens no session.
    """
    assert _check(cast, shipped.label_token)["state"] == "official"
    serial = format(services.capture.sealer.signer.certificate_chain[0].serial_number, "x")
    check_keys(settings, "revoke-service", serial, "--reason", "key_compromise")
    for payload in (shipped.label_token, label_url(settings.base_url, shipped.label_token)):
        answer = _check(cast, payload)
        assert (answer["official"], answer["state"]) == (False, "revoked")
        assert answer["help_url"] == HELP_URL
    with pytest.raises(APIError) as caught:
        cast.buyer().open_receipt(shipped.label_token)
    assert (caught.value.status, caught.value.code) == (401, "token_revoked")
