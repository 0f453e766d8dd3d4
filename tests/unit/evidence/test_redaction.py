"""What a merchant gets of a buyer's file: the pictures, none of the identifying metadata.

The files here carry a marker string in each part that must go (a stand-in for the device id
and certificate of the buyer in the C2PA manifest, a camera serial in EXIF); the real sealed
files are checked through the merchant route in tests/integration/test_merchants.py.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from evidence.reader import NoManifestError, TrustSettings, read_evidence
from evidence.redaction import BuyerFileWithheldError, redacted_chunks
from orderseal.samples import make_jpeg, make_mp4
from tests.support.paths import require_fixtures_dir

MARK = b"buyer-app-7f3a-device-cert"
C2PA_UUID = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")
NO_TRUST = TrustSettings(anchors_pem="")


def _redact(data: bytes, media_type: str) -> bytes:
    return b"".join(redacted_chunks(io.BytesIO(data), media_type))


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def _marked_jpeg(tmp_path: Path) -> bytes:
    plain = make_jpeg(tmp_path / "plain.jpg", seed=7).read_bytes()
    extra = (
        _segment(0xE1, b"Exif\x00\x00" + MARK)
        + _segment(0xEB, b"JP\x00\x01" + b"\x00" * 12 + MARK)
        + _segment(0xED, b"Photoshop 3.0\x00" + MARK)
        + _segment(0xFE, MARK)
    )
    return plain[:2] + extra + plain[2:]


def _pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


def test_a_jpeg_loses_exif_jumbf_iptc_and_comments_and_keeps_its_pixels(tmp_path: Path) -> None:
    marked = _marked_jpeg(tmp_path)
    redacted = _redact(marked, "image/jpeg")
    assert MARK in marked
    assert MARK not in redacted
    assert np.array_equal(_pixels(redacted), _pixels(marked))


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def test_a_png_loses_its_c2pa_and_text_chunks_and_keeps_its_pixels() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 16), (200, 30, 90)).save(buffer, format="PNG")
    plain = buffer.getvalue()
    ihdr_end = 8 + 12 + 13
    extra = b"".join(
        _chunk(kind, MARK) for kind in (b"caBX", b"tEXt", b"iTXt", b"zTXt", b"eXIf", b"tIME")
    )
    marked = plain[:ihdr_end] + extra + plain[ihdr_end:]
    redacted = _redact(marked, "image/png")
    assert MARK not in redacted
    assert redacted == plain
    assert np.array_equal(_pixels(redacted), _pixels(marked))


def test_an_mp4_c2pa_box_becomes_free_space_of_the_same_size(tmp_path: Path) -> None:
    plain = make_mp4(tmp_path / "clip.mp4", seed=3, seconds=1).read_bytes()
    (ftyp_length,) = struct.unpack(">I", plain[:4])
    payload = C2PA_UUID + MARK * 4
    box = struct.pack(">I4s", 8 + len(payload), b"uuid") + payload
    marked = plain[:ftyp_length] + box + plain[ftyp_length:]
    # Inserting the box moved the media data: shift the chunk offsets as c2pa does.
    marked = _shift_chunk_offsets(marked, len(box))
    redacted = _redact(marked, "video/mp4")
    assert MARK not in redacted
    assert len(redacted) == len(marked)
    freed = redacted[ftyp_length : ftyp_length + len(box)]
    assert freed[4:8] == b"free"
    assert freed[8:] == bytes(len(box) - 8)
    assert _frames(redacted) == _frames(marked) > 0


def _shift_chunk_offsets(data: bytes, by: int) -> bytes:
    out = bytearray(data)
    at = out.find(b"stco")
    assert at > 0
    (count,) = struct.unpack(">I", out[at + 8 : at + 12])
    for index in range(count):
        place = at + 12 + 4 * index
        (offset,) = struct.unpack(">I", out[place : place + 4])
        out[place : place + 4] = struct.pack(">I", offset + by)
    return bytes(out)


def _frames(data: bytes) -> int:
    with av.open(io.BytesIO(data), mode="r") as container:
        return len(list(container.decode(video=0)))


@pytest.mark.parametrize(
    ("data", "media_type"),
    [
        (b"\xff\xd8\xff\xe1\x00", "image/jpeg"),  # a segment that runs past the end
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\x05IHDR", "image/png"),
        (b"\x00\x00\x00\x20ftypisom", "video/mp4"),
        (b"%PDF-1.7 " + MARK, "application/pdf"),
    ],
    ids=["truncated-jpeg", "truncated-png", "truncated-mp4", "other-type"],
)
def test_a_file_that_does_not_parse_is_served_as_stored(data: bytes, media_type: str) -> None:
    """Not ours (we seal only well-formed files), so it holds nothing of ours to remove."""
    assert _redact(data, media_type) == data


@pytest.mark.parametrize("name", ["c2pa-rs/video1.mp4", "encypher-c2pa/x509-es256-mp4.mp4"])
def test_a_c2pa_video_from_another_implementation_reads_without_a_manifest(
    tmp_path: Path, name: str
) -> None:
    """Real C2PA videos (c2pa-rs, encypher-c2pa): the reader finds a manifest before, none
    after, and the frames still decode."""
    source = require_fixtures_dir() / name
    read_evidence(source, trust=NO_TRUST)  # it has one
    redacted = tmp_path / "redacted.mp4"
    with source.open("rb") as handle:
        redacted.write_bytes(b"".join(redacted_chunks(handle, "video/mp4")))
    with pytest.raises(NoManifestError):
        read_evidence(redacted, trust=NO_TRUST)
    assert _frames(redacted.read_bytes()) == _frames(source.read_bytes()) > 0


def _store_mark() -> bytes:
    """The type UUID of a C2PA manifest store's JUMBF description box."""
    return bytes.fromhex("6332706100110010800000aa00389b71")


@pytest.mark.parametrize("damage", ["stray-byte", "cut-short", "after-the-image"])
def test_a_damaged_sealed_file_that_still_holds_its_manifest_is_withheld(
    tmp_path: Path, damage: str
) -> None:
    """Adversary: a merchant hoping that a receipt damaged on its way (a chat app's stray byte,
    a cut transfer) or a store after the image data is served raw, with the buyer's device."""
    marked = _marked_jpeg(tmp_path)
    store = _segment(0xEB, b"JP\x00\x01" + b"\x00" * 8 + b"jumd" + _store_mark() + MARK)
    sealed = marked[:2] + store + marked[2:]
    damaged = {
        "stray-byte": sealed[: 2 + len(store)] + b"\x00" + sealed[2 + len(store) :],
        "cut-short": sealed[: len(sealed) - 40][: 2 + len(store) + 40],
        "after-the-image": marked + store,
    }[damage]
    with pytest.raises(BuyerFileWithheldError) as caught:
        _redact(damaged, "image/jpeg")
    assert caught.value.code == "buyer_file_withheld"
    # Intact, the same file is served, without the store.
    assert _store_mark() not in _redact(sealed, "image/jpeg")


def test_another_type_holding_a_manifest_store_is_withheld() -> None:
    with pytest.raises(BuyerFileWithheldError):
        _redact(b"%PDF-1.7 " + _store_mark() + MARK, "application/pdf")
