"""Issue 14 item 17: the renewal route does not tell unknown device ids from enrolled ones.

Adversary: an anonymous client probing ``POST /v1/devices/{id}/renewal`` with ids it
guesses and a request signed by its own key. Before the fix an unknown id got 401
``device_unknown`` and an enrolled one 422 ``renewal_proof_invalid`` (a revoked one 403
``device_revoked``), so the answers listed the enrolled fleet. Now every one of them gets the
same status, code and body until the request is signed by the enrolled key.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from capture.devices import renewal_payload, revoke_device
from clients.client import DeviceKey, PlatformClient
from keys.attestation import sign_bytes
from orderseal.services import Services
from tests.support import flows


def _renewal(device_id: str, key: DeviceKey) -> dict[str, str]:
    csr = key.csr_pem()
    timestamp = str(int(datetime.now(UTC).timestamp()))
    signature = sign_bytes(key.private_key, renewal_payload(device_id, csr.encode(), timestamp))
    return {"csr_pem": csr, "timestamp": timestamp, "signature": signature}


def _post(live_api: str, device_id: str, body: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{live_api}/v1/devices/{device_id}/renewal", json=body)


def _shape(response: httpx.Response) -> tuple[int, str, str, list[str]]:
    error = response.json()["error"]
    return response.status_code, error["code"], error["message"], sorted(error)


@pytest.fixture(scope="module")
def admin(live_api: str, credentials: dict[str, str]) -> PlatformClient:
    return PlatformClient(live_api, credentials["admin"])


def test_unknown_and_enrolled_ids_answer_alike_until_the_proof_verifies(
    live_api: str, admin: PlatformClient, services: Services
) -> None:
    enrolled = flows.enrol(admin, "station")
    revoked = flows.enrol(admin, "station")
    revoke_device(
        services.keys,
        services.ledger,
        revoked.device_id,
        reason="key_compromise",
        now=datetime.now(UTC),
    )
    prober = DeviceKey.generate("prober")
    answers = {
        name: _shape(_post(live_api, device_id, _renewal(device_id, prober)))
        for name, device_id in {
            "unknown": "station-never-enrolled",
            "enrolled": enrolled.device_id,
            "revoked": revoked.device_id,
        }.items()
    }
    assert answers["unknown"] == answers["enrolled"] == answers["revoked"]
    assert answers["unknown"][:2] == (422, "renewal_proof_invalid")

    # The honest path next to it: the enrolled key renews; only its holder learns of revocation.
    honest = _post(live_api, enrolled.device_id, _renewal(enrolled.device_id, enrolled))
    assert honest.status_code == 200, honest.text
    own = _post(live_api, revoked.device_id, _renewal(revoked.device_id, revoked))
    assert _shape(own)[:2] == (403, "device_revoked")
