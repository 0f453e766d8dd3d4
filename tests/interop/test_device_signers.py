"""Device keys cannot make C2PA evidence that anyone's validator trusts under our published
trust: c2pa refuses to sign with a device certificate of today's profile, and a claim signed
with a device certificate of the old profile reads untrusted, to c2pa and to encypher-c2pa,
because the published anchors are the service CAs, not the root that issues the device CA.
A seal by the capture service reads trusted to both under the same trust.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import c2pa
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from capture.devices import enrolment_message
from clients.client import DeviceKey, PlatformClient
from keys.attestation import sign_bytes
from keys.profile import DEVICE_EKUS
from keys.trust import certificates_from_pem
from orderseal.samples import make_jpeg
from orderseal.services import Services
from tests.support import flows
from tests.support.device_signers import legacy_device_certificate, sign_as_device
from tests.support.interop import validate_with_encypher

os.environ.setdefault("ENCYPHER_C2PA_TELEMETRY", "off")

UNTRUSTED = "signingCredential.untrusted"


@pytest.fixture(scope="module")
def published(live_api: str) -> dict[str, Any]:
    """The trust a third party downloads: c2pa settings and the anchors inside them."""
    settings: dict[str, Any] = httpx.get(f"{live_api}/v1/trust/c2pa-settings").json()
    anchors = httpx.get(f"{live_api}/v1/trust/c2pa-anchors").text
    assert settings["trust"]["trust_anchors"] == anchors
    return settings


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_jpeg(tmp_path_factory.mktemp("staged") / "damage.jpg", seed=13, size=(320, 240))


@pytest.fixture(scope="module")
def sealed(
    live_api: str, credentials: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    work = tmp_path_factory.mktemp("device-signers")
    cast = flows.actors(live_api, credentials)
    (photo,) = flows.receive(cast, flows.ship(cast, flows.register_order(cast), work), work)
    return photo


def _c2pa_read(path: Path, settings: dict[str, Any]) -> tuple[str, list[str]]:
    with (
        path.open("rb") as stream,
        c2pa.Reader("image/jpeg", stream, None, c2pa.Context.from_dict(settings)) as reader,
    ):
        report = json.loads(reader.json())
    active = report.get("validation_results", {}).get("activeManifest", {})
    return report["validation_state"], [entry["code"] for entry in active.get("failure", [])]


def _admin_enrolled(live_api: str, credentials: dict[str, str], kind: str) -> DeviceKey:
    device = DeviceKey.generate(f"{kind}-{secrets.token_hex(4)}")
    body = {
        "device_id": device.device_id,
        "kind": kind,
        "owner_id": "buyer-device-signer" if kind == "buyer" else None,
        "csr_pem": device.csr_pem(),
    }
    issued = PlatformClient(live_api, credentials["admin"]).call("POST", "/v1/devices", json=body)
    return DeviceKey(
        device.device_id,
        device.private_key,
        x509.load_pem_x509_certificate(issued["certificate_pem"].encode()),
    )


def _self_enrolled_buyer(live_api: str, credentials: dict[str, str]) -> DeviceKey:
    """POST /v1/buyer-devices: nothing but a buyer token, as in the attack of issue 13."""
    buyer_id = f"buyer-{secrets.token_hex(3)}"
    platform = PlatformClient(live_api, credentials["platform"])
    token = flows.buyer_token_response(platform, buyer_id)["token"]
    key = ec.generate_private_key(ec.SECP256R1())
    spki = base64.b64encode(
        key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).decode()
    nonce = flows.enrolment_nonce(live_api, token)
    proof = sign_bytes(key, enrolment_message(buyer_id, spki, nonce))
    response = httpx.post(
        f"{live_api}/v1/buyer-devices",
        json={"public_key_spki": spki, "proof": proof, "nonce": nonce},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return DeviceKey(
        body["device_id"], key, x509.load_pem_x509_certificate(body["certificate_pem"].encode())
    )


ENROLMENTS = ["station", "buyer-by-admin", "buyer-self-enrolled"]


@pytest.fixture(scope="module", params=ENROLMENTS, ids=ENROLMENTS)
def enrolled(
    request: pytest.FixtureRequest, live_api: str, credentials: dict[str, str]
) -> DeviceKey:
    if request.param == "buyer-self-enrolled":
        return _self_enrolled_buyer(live_api, credentials)
    return _admin_enrolled(live_api, credentials, request.param.split("-")[0])


def test_service_seal_is_trusted_under_published_trust(
    sealed: Path, published: dict[str, Any]
) -> None:
    assert _c2pa_read(sealed, published) == ("Trusted", [])
    result = validate_with_encypher(sealed, published["trust"]["trust_anchors"])
    assert result.trusted, result.describe()


SIGNING_SETTINGS = {
    "c2pa-defaults": None,
    # An attacker may list our device EKUs as acceptable: c2pa still refuses at signing,
    # because its certificate-profile check at signing time uses its built-in EKU list.
    "device-ekus-allowed": "\n".join(oid.dotted_string for oid in DEVICE_EKUS) + "\n",
}


@pytest.mark.parametrize("trust_config", SIGNING_SETTINGS.values(), ids=SIGNING_SETTINGS.keys())
def test_c2pa_refuses_to_sign_with_an_enrolled_device_key(
    enrolled: DeviceKey,
    services: Services,
    staged: Path,
    tmp_path: Path,
    trust_config: str | None,
) -> None:
    assert enrolled.certificate is not None
    chain = (enrolled.certificate, *services.keys.device_ca_chain())
    settings: dict[str, Any] = {"verify": {"verify_after_sign": False}}
    if trust_config is not None:
        settings["trust"] = {"trust_config": trust_config}
    dest = tmp_path / "device-signed.jpg"
    with pytest.raises(c2pa.C2paError.Signature):
        sign_as_device(
            staged, dest, private_key=enrolled.private_key, chain=chain, settings=settings
        )
    assert not dest.exists()


KINDS = ["station", "buyer"]


@pytest.mark.parametrize("kind", KINDS, ids=KINDS)
def test_old_profile_device_claim_is_untrusted_under_published_trust(
    kind: str, services: Services, published: dict[str, Any], staged: Path, tmp_path: Path
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    device_ca = services.keys.load_ca("device-ca")
    certificate = legacy_device_certificate(
        device_ca, key.public_key(), device_id=f"{kind}-legacy", kind=kind, now=datetime.now(UTC)
    )
    signed = sign_as_device(
        staged,
        tmp_path / "legacy-signed.jpg",
        private_key=key,
        chain=(certificate, *device_ca.chain_to_root),
    )
    published_anchors = published["trust"]["trust_anchors"]

    # The hole this closes: under the root, the old device claim reads Trusted to both.
    root_anchors = services.keys.trust_list().pem
    root_settings = {**published, "trust": {"trust_anchors": root_anchors}}
    assert _c2pa_read(signed, root_settings) == ("Trusted", [])
    assert validate_with_encypher(signed, root_anchors).trusted

    state, failures = _c2pa_read(signed, published)
    assert state != "Trusted"
    assert UNTRUSTED in failures
    result = validate_with_encypher(signed, published_anchors)
    assert not result.trusted
    assert UNTRUSTED in result.failure_codes, result.describe()
    # The device CA and root are not anchors at all; the service CA is.
    anchors = certificates_from_pem(published_anchors.encode())
    assert device_ca.certificate not in anchors
    assert device_ca.chain[-1] not in anchors
