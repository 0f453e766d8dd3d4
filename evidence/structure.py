"""Container structure checks of a capture before it is sealed (no pixel is decoded).

A camera writes complete, well-formed files. Before sealing, the capture service walks the
container: JPEG segments up to EOI, PNG chunks (with CRCs) up to IEND, MP4/MOV top-level boxes
to the end of the file. It refuses:

* ``corrupt_media``: a truncated or malformed container, or an embedded JUMBF (C2PA) box
  whose lengths do not add up;
* ``trailing_data``: bytes after the end of the image (a polyglot: JPEG + ZIP, PNG + HTML...);
* ``image_too_large``: declared dimensions above the pixel limit (a decompression bomb), read
  from the header so nothing is ever allocated for it.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from evidence.errors import MediaError

__all__ = ["check_structure"]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_MAX_PNG_CHUNK = 0x7FFFFFFF
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
_MAX_BOXES = 100_000
_TRAILING_SLACK = 16  # a few padding bytes after EOI/IEND, as some encoders write
_READ = 1024 * 1024


def _corrupt(message: str) -> MediaError:
    return MediaError(message, code="corrupt_media")


def check_structure(path: Path, media_type: str, *, max_pixels: int) -> None:
    """Refuse a capture whose container is truncated, malformed, padded with a second file or
    declares more than ``max_pixels`` pixels.

    Raises:
        MediaError: ``corrupt_media``, ``trailing_data`` or ``image_too_large``.
    """
    size = path.stat().st_size
    with path.open("rb") as handle:
        if media_type == "image/jpeg":
            end = _walk_jpeg(handle, size, max_pixels)
        elif media_type == "image/png":
            end = _walk_png(handle, size, max_pixels)
        elif media_type in ("video/mp4", "video/quicktime"):
            _walk_bmff(handle, size)
            return
        else:
            return
        handle.seek(end)
        rest = handle.read(_TRAILING_SLACK + 1)
    if len(rest) > _TRAILING_SLACK or rest.strip(b"\0\xff"):
        raise MediaError(
            f"expected the file to end with the image, found {size - end} more bytes after it "
            "(a second file appended?)",
            code="trailing_data",
        )


def _pixels(width: int, height: int, max_pixels: int) -> None:
    if width == 0 or height == 0:
        raise _corrupt(f"expected non-zero image dimensions, found {width}x{height}")
    if width * height > max_pixels:
        raise MediaError(
            f"expected at most {max_pixels} pixels, the image declares {width}x{height}",
            code="image_too_large",
        )


def _read_exact(handle: BinaryIO, count: int, what: str) -> bytes:
    data = handle.read(count)
    if len(data) != count:
        raise _corrupt(f"the file ends inside the {what} (truncated)")
    return data


# JPEG --------------------------------------------------------------------------------------
def _walk_jpeg(handle: BinaryIO, size: int, max_pixels: int) -> int:
    """Walk the segments; returns the offset just after EOI."""
    if _read_exact(handle, 2, "JPEG header") != b"\xff\xd8":
        raise _corrupt("expected a JPEG start-of-image marker")
    jumbf: dict[bytes, list[bytes]] = {}
    seen_frame = False
    while True:
        marker = _next_marker(handle)
        if marker == 0xD9:
            if not seen_frame:
                raise _corrupt("expected a JPEG frame before the end-of-image marker")
            _check_jumbf(jumbf)
            return handle.tell()
        if marker in _STANDALONE:
            continue
        (length,) = struct.unpack(">H", _read_exact(handle, 2, "JPEG segment length"))
        if length < 2:
            raise _corrupt("expected a JPEG segment length of at least 2")
        payload = _read_exact(handle, length - 2, "JPEG segment")
        if marker in _SOF_MARKERS:
            if len(payload) < 5:
                raise _corrupt("expected a complete JPEG frame header")
            height, width = struct.unpack(">HH", payload[1:5])
            _pixels(width, height, max_pixels)
            seen_frame = True
        elif marker == 0xEB and payload[:2] == b"JP" and len(payload) >= 16:
            jumbf.setdefault(payload[2:4], []).append(payload[4:])
        elif marker == 0xDA:
            if not seen_frame:
                raise _corrupt("expected a JPEG frame header before the scan")
            _skip_entropy(handle)


def _next_marker(handle: BinaryIO) -> int:
    byte = _read_exact(handle, 1, "JPEG marker")
    if byte != b"\xff":
        raise _corrupt("expected a JPEG marker")
    while True:
        code = _read_exact(handle, 1, "JPEG marker")[0]
        if code != 0xFF:
            return code


def _skip_entropy(handle: BinaryIO) -> None:
    """Advance to the 0xFF of the next real marker after entropy-coded data."""
    while True:
        position = handle.tell()
        block = handle.read(_READ)
        if len(block) < 2:
            raise _corrupt("the file ends inside the JPEG image data (truncated)")
        index = 0
        while True:
            index = block.find(b"\xff", index)
            if index == -1 or index == len(block) - 1:
                handle.seek(position + (len(block) - 1 if index != -1 else len(block)))
                break
            following = block[index + 1]
            if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
                index += 1
                continue
            handle.seek(position + index)
            return


def _check_jumbf(segments: dict[bytes, list[bytes]]) -> None:
    """An embedded JUMBF superbox must be complete: its children fill it exactly."""
    for parts in segments.values():
        # Each APP11 part is Z (4 bytes) + the box header (LBox, TBox) repeated + content.
        ordered = sorted(parts, key=lambda part: part[:4])
        header = ordered[0][4:12]
        body = ordered[0][12:] + b"".join(part[12:] for part in ordered[1:])
        (declared,) = struct.unpack(">I", header[:4])
        if header[4:] != b"jumb" or declared != len(body) + 8:
            raise _corrupt("the embedded C2PA (JUMBF) box is malformed or incomplete")
        for _ in _boxes(body, "JUMBF"):
            pass


def _boxes(data: bytes, what: str) -> Iterator[tuple[bytes, bytes]]:
    offset = 0
    for _ in range(_MAX_BOXES):
        if offset == len(data):
            return
        if len(data) - offset < 8:
            raise _corrupt(f"the {what} box list ends inside a box header")
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if length < 8 or offset + length > len(data):
            raise _corrupt(f"a {what} box declares a length past its container")
        yield kind, data[offset + 8 : offset + length]
        offset += length
    raise _corrupt(f"too many {what} boxes")


# PNG ---------------------------------------------------------------------------------------
def _walk_png(handle: BinaryIO, size: int, max_pixels: int) -> int:
    """Walk the chunks (checking lengths and CRCs); returns the offset after IEND."""
    if _read_exact(handle, 8, "PNG signature") != _PNG_SIGNATURE:
        raise _corrupt("expected a PNG signature")
    first = True
    for _ in range(_MAX_BOXES):
        length, kind = struct.unpack(">I4s", _read_exact(handle, 8, "PNG chunk header"))
        if length > _MAX_PNG_CHUNK or handle.tell() + length + 4 > size:
            raise _corrupt(f"PNG chunk {kind!r} declares a length past the end of the file")
        crc = zlib.crc32(kind)
        remaining = length
        head = b""
        while remaining:
            block = handle.read(min(remaining, _READ))
            if not head:
                head = block[:13]
            crc = zlib.crc32(block, crc)
            remaining -= len(block)
        (stored,) = struct.unpack(">I", _read_exact(handle, 4, "PNG chunk CRC"))
        if stored != crc:
            raise _corrupt(f"PNG chunk {kind!r} fails its CRC")
        if first:
            if kind != b"IHDR" or length != 13:
                raise _corrupt("expected the PNG to start with an IHDR chunk")
            width, height = struct.unpack(">II", head[:8])
            _pixels(width, height, max_pixels)
            first = False
        if kind == b"IEND":
            return handle.tell()
    raise _corrupt("too many PNG chunks")


# MP4 / MOV ---------------------------------------------------------------------------------
def _walk_bmff(handle: BinaryIO, size: int) -> None:
    """Top-level boxes must tile the file exactly, with ftyp first and a moov box."""
    offset = 0
    kinds: list[bytes] = []
    while offset < size:
        if len(kinds) >= _MAX_BOXES:
            raise _corrupt("too many top-level boxes")
        handle.seek(offset)
        length, kind = struct.unpack(">I4s", _read_exact(handle, 8, "box header"))
        if length == 1:
            (length,) = struct.unpack(">Q", _read_exact(handle, 8, "box header"))
        elif length == 0:
            length = size - offset
        if length < 8 or offset + length > size:
            raise _corrupt(f"box {kind!r} declares a length past the end of the file (truncated)")
        kinds.append(kind)
        offset += length
    if not kinds or kinds[0] != b"ftyp" or b"moov" not in kinds:
        raise _corrupt("expected an ftyp box first and a moov box")
