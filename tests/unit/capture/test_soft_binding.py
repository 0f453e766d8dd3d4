"""The seal carries the photo's perceptual hash in a ``c2pa.soft-binding`` assertion."""

from __future__ import annotations

from pathlib import Path

import pytest

from capture.sealing.seal import Sealer
from evidence.fingerprints import SOFT_BINDING_ALG, SOFT_BINDING_LABEL, fingerprint
from evidence.manifest import CaptureAssertion, Stage
from evidence.reader import TrustSettings, read_evidence
from infra.settings import Settings
from keys.store import KeyStore
from orderseal.bootstrap import initialize_home
from orderseal.samples import make_jpeg


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyStore:
    home = tmp_path_factory.mktemp("soft-binding")
    initialize_home(Settings(home=home), quiet_dev_warning=True)
    return KeyStore(home / "keys")


def _seal(keys: KeyStore, source: Path, fingerprints: list[str]) -> Path:
    sealer = Sealer(signer=keys.service_signer(), trust_pem=keys.trust_list().pem)
    assertion = CaptureAssertion(
        order_id="ORD-T",
        stage=Stage.SHIPMENT,
        device_id="station-t",
        session_id="ss_t",
        captured_at="2025-01-01T00:00:00+00:00",
        received_at="2025-01-01T00:00:01+00:00",
        content_sha256="0" * 64,
        media_type="image/jpeg",
    )
    dest = source.with_name(f"sealed-{source.name}")
    sealer.seal(
        source,
        dest,
        media_type="image/jpeg",
        assertion=assertion,
        title=source.name,
        fingerprints=fingerprints,
    )
    return dest


def test_the_seal_names_the_algorithm_and_the_hash(keys: KeyStore, tmp_path: Path) -> None:
    photo = make_jpeg(tmp_path / "p.jpg", seed=5)
    hashes = fingerprint(photo, "image/jpeg")
    sealed = _seal(keys, photo, hashes)
    report = read_evidence(sealed, trust=TrustSettings(anchors_pem=keys.trust_list().pem))
    binding = report.active_manifest.assertions[SOFT_BINDING_LABEL]
    assert binding["alg"] == SOFT_BINDING_ALG
    assert [block["value"] for block in binding["blocks"]] == hashes
    assert report.state == "Trusted"
    # Sealing does not change what the hash sees.
    assert fingerprint(sealed, "image/jpeg") == hashes


def test_no_fingerprint_no_soft_binding(keys: KeyStore, tmp_path: Path) -> None:
    sealed = _seal(keys, make_jpeg(tmp_path / "q.jpg", seed=6), [])
    report = read_evidence(sealed, trust=TrustSettings(anchors_pem=keys.trust_list().pem))
    assert SOFT_BINDING_LABEL not in report.active_manifest.assertions
