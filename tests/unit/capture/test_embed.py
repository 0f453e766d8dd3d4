"""One-pass sealing through c2pa's placeholder workflow (capture.sealing.embed).

Every sealed file must read ``Trusted`` with no failure, keep its media bytes (an MP4's
samples are found through shifted chunk offsets), and anything this path does not rewrite
must still be sealed, by ``Builder.sign``.
"""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path

import av
import pytest

from capture.sealing import embed
from evidence.reader import TrustSettings, read_evidence
from infra.settings import Settings
from keys.store import KeyStore
from orderseal.bootstrap import initialize_home
from orderseal.samples import make_jpeg, make_mp4, make_png
from tests.support.sealing import seal_file

_C2PA_UUID = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyStore:
    home = tmp_path_factory.mktemp("embed")
    initialize_home(Settings(home=home), quiet_dev_warning=True)
    return KeyStore(home / "keys")


@pytest.fixture
def embedded_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Media types sealed through the embeddable path (the rest went to Builder.sign)."""
    calls: list[str] = []
    original = embed.seal_embedded

    def spy(builder: object, media_type: str, source: Path, dest: Path) -> None:
        original(builder, media_type, source, dest)
        calls.append(media_type)

    monkeypatch.setattr(embed, "seal_embedded", spy)
    return calls


def _trusted(keys: KeyStore, path: Path) -> None:
    report = read_evidence(path, trust=TrustSettings(anchors_pem=keys.trust_list().pem))
    assert report.state == "Trusted"
    assert report.failure_codes == ()


def _top_level(path: Path) -> list[tuple[bytes, int, int]]:
    data, boxes, offset = path.read_bytes(), [], 0
    while offset < len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        boxes.append((kind, offset, size))
        offset += size
    return boxes


def _packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(container.streams.video[0]) if p.size]


def _movie(path: Path, *, fmt: str = "mp4", options: dict[str, str] | None = None) -> Path:
    """A short clip in ``fmt`` with muxer ``options`` (faststart, fragments)."""
    return make_mp4(
        path,
        seed=11,
        seconds=1.0,
        size=(160, 120),
        fps=12,
        container_format=fmt,
        muxer_options=options,
    )


def test_embeddable_signing_is_available_with_the_pinned_binding() -> None:
    assert embed.available()


@pytest.mark.parametrize(
    ("name", "fmt", "options"),
    [
        ("moov-last.mp4", "mp4", {}),
        ("faststart.mp4", "mp4", {"movflags": "faststart"}),
        ("camera.mov", "mov", {}),
    ],
)
def test_movies_are_sealed_in_one_pass_with_their_samples_intact(
    keys: KeyStore,
    tmp_path: Path,
    embedded_calls: list[str],
    name: str,
    fmt: str,
    options: dict[str, str],
) -> None:
    media_type = "video/quicktime" if fmt == "mov" else "video/mp4"
    source = _movie(tmp_path / name, fmt=fmt, options=options)
    sealed = seal_file(keys, source, media_type)
    assert embedded_calls == [media_type]
    _trusted(keys, sealed)
    boxes = _top_level(sealed)
    assert boxes[0][0] == b"ftyp"
    assert boxes[1][0] == b"uuid"  # where c2pa itself puts the manifest
    assert sealed.read_bytes()[boxes[1][1] + 8 : boxes[1][1] + 24] == _C2PA_UUID
    # The samples are found through the shifted chunk offsets, byte for byte.
    assert _packets(sealed) == _packets(source)


def test_photos_keep_builder_sign(
    keys: KeyStore, tmp_path: Path, embedded_calls: list[str]
) -> None:
    # c2pa's embeddable JPEG/PNG manifests carry zero padding another validator refuses.
    for source, media_type in (
        (make_jpeg(tmp_path / "p.jpg", seed=5), "image/jpeg"),
        (make_png(tmp_path / "p.png", seed=6), "image/png"),
    ):
        with pytest.raises(embed.EmbedUnsupportedError):
            embed._plan(source, media_type)
        _trusted(keys, seal_file(keys, source, media_type))
    assert embedded_calls == []


def test_a_changed_sample_breaks_the_seal(keys: KeyStore, tmp_path: Path) -> None:
    sealed = seal_file(keys, make_mp4(tmp_path / "v.mp4", seed=7, seconds=0.5), "video/mp4")
    mdat = next(box for box in _top_level(sealed) if box[0] == b"mdat")
    data = bytearray(sealed.read_bytes())
    data[mdat[1] + mdat[2] // 2] ^= 0xFF
    sealed.write_bytes(bytes(data))
    report = read_evidence(sealed, trust=TrustSettings(anchors_pem=keys.trust_list().pem))
    assert report.failure_codes


@pytest.mark.parametrize(
    ("name", "options"),
    [("fragmented.mp4", {"movflags": "frag_keyframe+empty_moov"})],
)
def test_layouts_it_does_not_rewrite_go_to_builder_sign(
    keys: KeyStore,
    tmp_path: Path,
    embedded_calls: list[str],
    name: str,
    options: dict[str, str],
) -> None:
    source = _movie(tmp_path / name, options=options)
    with pytest.raises(embed.EmbedUnsupportedError):
        embed._plan(source, "video/mp4")
    sealed = seal_file(keys, source, "video/mp4")
    assert embedded_calls == []
    _trusted(keys, sealed)


def test_a_file_already_carrying_a_manifest_goes_to_builder_sign(
    keys: KeyStore, tmp_path: Path, embedded_calls: list[str]
) -> None:
    once = seal_file(keys, make_mp4(tmp_path / "v.mp4", seed=8, seconds=0.5), "video/mp4")
    embedded_calls.clear()
    with pytest.raises(embed.EmbedUnsupportedError):
        embed._plan(once, "video/mp4")
    _trusted(keys, seal_file(keys, once, "video/mp4"))
    assert embedded_calls == []


def _synthetic_movie(tmp_path: Path, table: bytes) -> Path:
    """ftyp, mdat, then a moov holding one chunk offset table ``table`` (a whole box)."""

    def box(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I4s", 8 + len(payload), kind) + payload

    stbl = box(b"stbl", table)
    moov = box(b"moov", box(b"trak", box(b"mdia", box(b"minf", stbl))))
    path = tmp_path / "synthetic.mp4"
    path.write_bytes(box(b"ftyp", b"isom\x00\x00\x02\x00") + box(b"mdat", b"x" * 64) + moov)
    return path


def test_64_bit_chunk_offsets_are_shifted(tmp_path: Path) -> None:
    entries = [40, 2**33, 2**40 + 7]
    co64 = struct.pack(">I4sII", 16 + 8 * 3, b"co64", 0, 3) + struct.pack(">3Q", *entries)
    path = _synthetic_movie(tmp_path, co64)
    plan = embed._plan(path, "video/mp4")
    assert plan.insert_at == 16
    with path.open("rb") as handle:
        moov = embed._shifted_moov(handle.fileno(), plan, 1000)
    stream = io.BytesIO(moov)
    stream.seek(moov.index(b"co64") + 12)
    assert list(struct.unpack(">3Q", stream.read(24))) == [e + 1000 for e in entries]


def test_32_bit_offsets_that_would_overflow_are_refused(tmp_path: Path) -> None:
    stco = struct.pack(">I4sII", 16 + 4, b"stco", 0, 1) + struct.pack(">I", 2**32 - 10)
    path = _synthetic_movie(tmp_path, stco)
    plan = embed._plan(path, "video/mp4")
    with path.open("rb") as handle, pytest.raises(embed.EmbedUnsupportedError):
        embed._shifted_moov(handle.fileno(), plan, 100)


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00\x00\x00\x08moov", b"\x00\x00\x00\x10ftypisom\x00\x00\x00\x99mdat"],
)
def test_malformed_movies_are_refused_before_anything_is_written(
    tmp_path: Path, data: bytes
) -> None:
    path = tmp_path / "bad.mp4"
    path.write_bytes(data)
    with pytest.raises(embed.EmbedUnsupportedError):
        embed._plan(path, "video/mp4")


def test_without_copy_file_range_the_copy_falls_back_to_bounded_reads(
    keys: KeyStore, tmp_path: Path, embedded_calls: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_args: object) -> int:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "copy_file_range", refuse)
    source = _movie(tmp_path / "fallback.mp4")
    sealed = seal_file(keys, source, "video/mp4")
    assert embedded_calls == ["video/mp4"]
    _trusted(keys, sealed)
    assert _packets(sealed) == _packets(source)
