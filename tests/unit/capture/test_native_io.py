"""Sealing over native file descriptors: used with this binding, same verdict as Python streams."""

from __future__ import annotations

from pathlib import Path

import pytest

from capture.sealing import native_io
from evidence.reader import TrustSettings, read_evidence
from infra.settings import Settings
from keys.store import KeyStore
from orderseal.bootstrap import initialize_home
from orderseal.samples import make_jpeg, make_mp4
from tests.support.sealing import seal_file


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyStore:
    home = tmp_path_factory.mktemp("native-io")
    initialize_home(Settings(home=home), quiet_dev_warning=True)
    return KeyStore(home / "keys")


def test_native_streams_are_available_with_the_pinned_binding() -> None:
    assert native_io.available()


@pytest.mark.parametrize("native", [True, False])
def test_both_paths_seal_trusted_evidence(
    keys: KeyStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, native: bool
) -> None:
    monkeypatch.setattr(native_io, "available", lambda: native)
    trust = TrustSettings(anchors_pem=keys.trust_list().pem)
    photo = seal_file(keys, make_jpeg(tmp_path / "p.jpg", seed=3), "image/jpeg")
    video = seal_file(keys, make_mp4(tmp_path / "v.mp4", seed=4, seconds=0.5), "video/mp4")
    for sealed in (photo, video):
        report = read_evidence(sealed, trust=trust)
        assert report.state == "Trusted"
        assert report.failure_codes == ()


def test_a_missing_source_leaves_no_output(keys: KeyStore, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        seal_file(keys, tmp_path / "absent.jpg", "image/jpeg")
    assert not (tmp_path / "sealed-absent.jpg").exists()
