"""The bad-input corpus: hostile and broken files, generated on the fly (nothing downloaded).

Each :class:`BadFile` is bytes plus what a careless or malicious client would claim about them
(filename, Content-Type). :func:`build_corpus` writes them into a folder so a failing case can be
opened by hand (``tests/badinput/README.md`` lists what each case attacks).
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image

from capture.sealing.seal import Sealer
from evidence.manifest import CaptureAssertion, Stage
from evidence.media import sniff_media_type
from keys.backends.pem import PEMFileSigner
from keys.ca import (
    create_root,
    generate_private_key,
    issue_certificate,
    issue_intermediate,
    subject_name,
)
from keys.profile import CertificateRole
from keys.trust import certificates_to_pem
from orderseal.samples import make_jpeg, make_mp4, make_png

__all__ = [
    "BadFile",
    "bomb_png",
    "build_corpus",
    "foreign_sealed",
    "huge_jpeg_header",
    "image_size",
    "jumbf_span",
    "oversized_assertion",
    "png_chunk",
]


@dataclass(frozen=True)
class BadFile:
    """One corpus entry: a name, the bytes and the claims sent with them."""

    name: str
    data: bytes
    filename: str
    content_type: str = "application/octet-stream"


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk with a correct CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int = 50_000, height: int = 50_000) -> bytes:
    """A valid 1-bit PNG declaring ``width`` x ``height`` pixels whose IDAT is tiny.

    Decoding it would need width*height/8 bytes (312 MB at the default); the file stays small
    because only the first rows are actually compressed (the rest is "missing"), so a decoder
    that trusts the header allocates everything before noticing.
    """
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\0" + b"\0" * min((width + 7) // 8, 1 << 16)
    idat = zlib.compress(row * 16, 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def huge_jpeg_header(base: bytes, width: int = 65_500, height: int = 65_500) -> bytes:
    """A real JPEG whose SOF marker is rewritten to declare absurd dimensions."""
    data = bytearray(base)
    index = 2
    while index + 4 <= len(data):
        marker = data[index + 1]
        length = struct.unpack(">H", data[index + 2 : index + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            struct.pack_into(">HH", data, index + 5, height, width)
            return bytes(data)
        index += 2 + length
    raise ValueError("expected a JPEG with an SOF marker")


def jumbf_span(sealed_jpeg: bytes) -> tuple[int, int]:
    """(start, end) offsets of the first APP11 (JUMBF / C2PA manifest) segment of a JPEG."""
    index = 2
    while index + 4 <= len(sealed_jpeg):
        marker = sealed_jpeg[index + 1]
        length = struct.unpack(">H", sealed_jpeg[index + 2 : index + 4])[0]
        if marker == 0xEB:
            return index, index + 2 + length
        if marker == 0xDA:
            break
        index += 2 + length
    raise ValueError("expected a sealed JPEG with an APP11 segment")


def _polyglot(jpeg: bytes) -> bytes:
    """A JPEG that is also a ZIP archive holding an HTML page (a classic upload polyglot)."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("index.html", "<script>alert(document.cookie)</script>")
    return jpeg + archive.getvalue()


def _corrupt_jumbf(sealed: bytes) -> bytes:
    start, end = jumbf_span(sealed)
    data = bytearray(sealed)
    # The first box inside the APP11 payload starts after CI(2) En(2) Z(4): break its LBox.
    box = start + 4 + 8
    struct.pack_into(">I", data, box, 0xFFFFFFF0)
    # And scramble the description box (JUMBF type UUID and "c2pa" label) behind it.
    for offset in range(box + 8, min(box + 72, end)):
        data[offset] ^= 0xA5
    return bytes(data)


def foreign_sealed(source: Path, dest: Path, *, serials: tuple[str, ...] = ()) -> bytes:
    """Seal ``source`` under a throwaway CA (the bytes are a well-formed C2PA file)."""
    now = datetime.now(UTC)
    root = create_root("Corpus Root", now=now)
    intermediate = issue_intermediate(root, "Corpus CA", now=now)
    key = generate_private_key()
    leaf = issue_certificate(
        intermediate,
        key.public_key(),
        subject_name("corpus signer"),
        role=CertificateRole.SERVICE,
        now=now,
        validity=timedelta(days=1),
    )
    sealer = Sealer(
        PEMFileSigner(key, (leaf, intermediate.certificate)),
        certificates_to_pem((root.certificate,)),
    )
    media_type = sniff_media_type(source) or "image/jpeg"
    assertion = CaptureAssertion(
        order_id="ORD-CORPUS",
        stage=Stage.RECEIPT,
        device_id="corpus",
        session_id="rs_corpus",
        captured_at=now.isoformat(),
        received_at=now.isoformat(),
        content_sha256="0" * 64,
        media_type=media_type,
        serials=serials,
    )
    sealer.seal(source, dest, media_type=media_type, assertion=assertion, title=source.name)
    return dest.read_bytes()


def build_corpus(folder: Path, *, sealed_jpeg: bytes) -> list[BadFile]:
    """Make every corpus file (also written to ``folder``) from fresh sample media.

    Args:
        folder: where to write the files (for inspection).
        sealed_jpeg: an OrderSeal-sealed JPEG (cut inside its manifest, corrupted, ...).
    """
    folder.mkdir(parents=True, exist_ok=True)
    jpeg = make_jpeg(folder / "base.jpg", seed=801, size=(160, 120)).read_bytes()
    png = make_png(folder / "base.png", seed=802, size=(96, 64)).read_bytes()
    mp4 = make_mp4(folder / "base.mp4", seed=803, seconds=0.4, size=(96, 64)).read_bytes()
    start, end = jumbf_span(sealed_jpeg)
    cases = [
        BadFile("zero-byte", b"", "empty.jpg", "image/jpeg"),
        BadFile("jpeg-cut-3", jpeg[:3], "cut.jpg", "image/jpeg"),
        BadFile("jpeg-cut-header", jpeg[:200], "cut.jpg", "image/jpeg"),
        BadFile("jpeg-cut-half", jpeg[: len(jpeg) // 2], "cut.jpg", "image/jpeg"),
        BadFile("jpeg-cut-before-eoi", jpeg[:-2], "cut.jpg", "image/jpeg"),
        BadFile("png-cut-9", png[:9], "cut.png", "image/png"),
        BadFile("png-cut-ihdr", png[:20], "cut.png", "image/png"),
        BadFile("png-cut-half", png[: len(png) // 2], "cut.png", "image/png"),
        BadFile("png-no-iend", png[:-12], "cut.png", "image/png"),
        BadFile("mp4-cut-ftyp", mp4[:12], "cut.mp4", "video/mp4"),
        BadFile("mp4-cut-half", mp4[: len(mp4) // 2], "cut.mp4", "video/mp4"),
        BadFile("mp4-cut-end", mp4[:-100], "cut.mp4", "video/mp4"),
        BadFile("sealed-cut-in-manifest", sealed_jpeg[: (start + end) // 2], "s.jpg", "image/jpeg"),
        BadFile("sealed-cut-after-manifest", sealed_jpeg[: end + 40], "s.jpg", "image/jpeg"),
        BadFile("text-as-jpeg", b"hello, this is not a photo\n" * 20, "photo.jpg", "image/jpeg"),
        BadFile("html-as-png", b"<html><script>alert(1)</script></html>", "x.png", "image/png"),
        BadFile("png-named-jpg", png, "photo.jpg", "image/jpeg"),
        BadFile("decompression-bomb", bomb_png(), "bomb.png", "image/png"),
        BadFile("absurd-dimensions-png", bomb_png(0x7FFFFFFF, 0x7FFFFFFF), "wide.png", "image/png"),
        BadFile("absurd-dimensions-jpeg", huge_jpeg_header(jpeg), "wide.jpg", "image/jpeg"),
        BadFile("polyglot-jpeg-zip", _polyglot(jpeg), "poly.jpg", "image/jpeg"),
        BadFile("corrupt-jumbf", _corrupt_jumbf(sealed_jpeg), "jumbf.jpg", "image/jpeg"),
    ]
    for case in cases:
        (folder / f"{case.name}.bin").write_bytes(case.data)
    return cases


def oversized_assertion(folder: Path, *, assertion_bytes: int) -> bytes:
    """A JPEG sealed (under a throwaway CA) with an OrderSeal assertion of about
    ``assertion_bytes`` bytes: tens of thousands of unit serials."""
    source = make_jpeg(folder / "oversized-src.jpg", seed=804, size=(96, 72))
    count = assertion_bytes // 24
    serials = tuple(f"SN-{index:020d}" for index in range(count))
    return foreign_sealed(source, folder / "oversized.jpg", serials=serials)


def image_size(data: bytes) -> tuple[int, int]:
    """Pillow's header parse of ``data`` (no pixel decoding)."""
    with Image.open(io.BytesIO(data)) as image:
        return image.size
