"""``orderseal keys export-trust``: a third party verifies our evidence with plain c2pa.

The exported ``c2pa-settings.json`` is loaded as-is into a c2pa ``Context`` (the same settings
format c2patool's ``--settings`` takes); evidence reads ``Trusted`` with it and only
``Valid`` (untrusted signer) without it.
"""

from __future__ import annotations

import json
from pathlib import Path

import c2pa
import httpx
import pytest
from cryptography import x509

from infra.settings import Settings
from tests.support import flows
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
    settings: Settings, live_api: str, sealed: Path, tmp_path: Path
) -> None:
    out = tmp_path / "published"
    check_keys(settings, "export-trust", str(out))
    anchors = (out / "anchors.pem").read_text()
    assert anchors == httpx.get(f"{live_api}/v1/trust/anchors").text
    assert "PRIVATE KEY" not in anchors
    exported = json.loads((out / "c2pa-settings.json").read_text())
    assert exported["verify"]["remote_manifest_fetch"] is False
    assert _state(sealed, exported) == ("Trusted", [])

    without_anchors = {key: value for key, value in exported.items() if key != "trust"}
    state, failures = _state(sealed, without_anchors)
    assert state != "Trusted"
    assert "signingCredential.untrusted" in failures

    for name in ("device-ca", "service-ca"):
        crl = x509.load_der_x509_crl((out / f"{name}.crl").read_bytes())
        assert crl.next_update_utc is not None
