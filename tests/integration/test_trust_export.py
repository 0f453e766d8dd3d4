"""``orderseal keys export-trust``: a third party verifies our evidence with plain c2pa.

The exported ``c2pa-settings.json`` is loaded as-is into a c2pa ``Context`` (the same settings
format c2patool's ``--settings`` takes); evidence reads ``Trusted`` with it and only
``Valid`` (untrusted signer) without it. Its anchors are the service CA (an intermediate, which
c2pa takes as an anchor), not the root: a claim signed by a device key reads untrusted.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import c2pa
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from infra.settings import Settings
from keys.trust import certificates_from_pem
from orderseal.samples import make_jpeg
from orderseal.services import Services
from tests.support import flows
from tests.support.device_signers import legacy_device_certificate, sign_as_device
from tests.support.keys_cli import check_keys


@pytest.fixture(scope="module")
def sealed(
    live_api: str, credentials: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    work = tmp_path_factory.mktemp("export")
    cast = flows.actors(live_api, credentials)
    order_id = flows.register_order(cast)
    (photo,) = flows.receive(cast, flows.ship(cast, order_id, work), work)
    return photo


def _state(path: Path, settings: dict[str, object]) -> tuple[str, list[str]]:
    with (
        path.open("rb") as stream,
        c2pa.Reader("image/jpeg", stream, None, c2pa.Context.from_dict(settings)) as reader,
    ):
        report = json.loads(reader.json())
    failures = [
        entry["code"]
        for entry in report.get("validation_results", {})
        .get("activeManifest", {})
        .get("failure", [])
    ]
    return report["validation_state"], failures


def test_exported_trust_verifies_our_evidence(
    settings: Settings, services: Services, live_api: str, sealed: Path, tmp_path: Path
) -> None:
    out = tmp_path / "published"
    check_keys(settings, "export-trust", str(out))
    anchors = (out / "anchors.pem").read_text()
    assert anchors == httpx.get(f"{live_api}/v1/trust/c2pa-anchors").text
    assert "PRIVATE KEY" not in anchors
    assert certificates_from_pem(anchors.encode()) == (
        services.keys.load_ca("service-ca").certificate,
    )
    exported = json.loads((out / "c2pa-settings.json").read_text())
    assert exported == httpx.get(f"{live_api}/v1/trust/c2pa-settings").json()
    assert exported["verify"]["remote_manifest_fetch"] is False
    assert _state(sealed, exported) == ("Trusted", [])
    device_chain = certificates_from_pem((out / "device-ca-chain.pem").read_bytes())
    assert device_chain == services.keys.device_ca_chain()

    without_anchors = {key: value for key, value in exported.items() if key != "trust"}
    state, failures = _state(sealed, without_anchors)
    assert state != "Trusted"
    assert "signingCredential.untrusted" in failures

    for name in ("device-ca", "service-ca"):
        crl = x509.load_der_x509_crl((out / f"{name}.crl").read_bytes())
        assert crl.next_update_utc is not None
    # The webhook signing keys, as the API publishes them: receivers need no shared secret.
    hooks = json.loads((out / "webhook-keys.json").read_text())
    assert hooks == httpx.get(f"{live_api}/v1/trust/webhook-keys").json()


def test_exported_trust_does_not_trust_a_device_signed_claim(
    settings: Settings, services: Services, tmp_path: Path
) -> None:
    """A device enrolled before the profile change still holds claim-signing EKUs; its
    claim reads Trusted under the root, and must not under the exported trust."""
    out = tmp_path / "published"
    check_keys(settings, "export-trust", str(out))
    exported = json.loads((out / "c2pa-settings.json").read_text())
    key = ec.generate_private_key(ec.SECP256R1())
    device_ca = services.keys.load_ca("device-ca")
    certificate = legacy_device_certificate(
        device_ca, key.public_key(), device_id="app-legacy", kind="buyer", now=datetime.now(UTC)
    )
    staged = make_jpeg(tmp_path / "staged.jpg", seed=7, size=(320, 240))
    signed = sign_as_device(
        staged,
        tmp_path / "signed.jpg",
        private_key=key,
        chain=(certificate, *device_ca.chain_to_root),
    )
    under_root = {**exported, "trust": {"trust_anchors": services.keys.trust_list().pem}}
    assert _state(signed, under_root) == ("Trusted", [])
    state, failures = _state(signed, exported)
    assert state != "Trusted"
    assert "signingCredential.untrusted" in failures
