"""Published trust names the service CAs (and TSA roots) as claim-signing anchors, never the
root that also issues device CAs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from infra.settings import Settings
from keys.ca import create_root
from keys.publish import claim_signing_trust, export_trust
from keys.rotation import rotate_service_key
from keys.store import KeyStore
from keys.trust import certificates_from_pem
from orderseal.bootstrap import initialize_home

NOW = datetime(2026, 11, 22, tzinfo=UTC)


@pytest.fixture
def keys(tmp_path: Path) -> KeyStore:
    initialize_home(Settings(home=tmp_path), quiet_dev_warning=True)
    return KeyStore(tmp_path / "keys")


def test_anchors_are_the_service_ca_not_the_root(keys: KeyStore) -> None:
    anchors = claim_signing_trust(keys).anchors
    assert anchors == (keys.load_ca("service-ca").certificate,)
    assert keys.load_ca("root").certificate not in anchors
    assert keys.load_ca("device-ca").certificate not in anchors


def test_retired_service_cas_stay_anchors(keys: KeyStore) -> None:
    first = keys.load_ca("service-ca").certificate
    rotate_service_key(keys, now=NOW, validity=timedelta(days=30))
    assert claim_signing_trust(keys).anchors == (first,)
    rotate_service_key(keys, now=NOW, validity=timedelta(days=30), intermediate=True)
    second = keys.load_ca("service-ca").certificate
    assert second != first
    assert claim_signing_trust(keys).anchors == (second, first)


def test_foreign_anchor_is_kept_and_our_root_is_not(keys: KeyStore) -> None:
    tsa_root = create_root("Test TSA Root", now=NOW).certificate
    keys.add_anchor(tsa_root)
    anchors = claim_signing_trust(keys).anchors
    assert anchors == (keys.load_ca("service-ca").certificate, tsa_root)


def test_export_writes_the_same_anchors_everywhere(keys: KeyStore, tmp_path: Path) -> None:
    out = tmp_path / "published"
    names = {path.name for path in export_trust(keys, out, now=NOW)}
    assert names == {
        "anchors.pem",
        "c2pa-settings.json",
        "device-ca-chain.pem",
        "device-ca.crl",
        "service-ca.crl",
        "webhook-keys.json",
    }
    anchors = (out / "anchors.pem").read_text()
    assert anchors == claim_signing_trust(keys).pem
    settings = json.loads((out / "c2pa-settings.json").read_text())
    assert settings["trust"]["trust_anchors"] == anchors
    chain = certificates_from_pem((out / "device-ca-chain.pem").read_bytes())
    assert chain == keys.device_ca_chain()
