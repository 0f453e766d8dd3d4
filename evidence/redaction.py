"""A buyer's file as a merchant may see it: the pictures, without what identifies the buyer.

A sealed receipt capture carries its C2PA manifest, and in it the buyer's device id and device
certificate: the same values in every dispute the buyer files, whichever merchant it is
against, so merchants comparing files could link one buyer across shops although each sees
only a per-merchant pseudonym. A phone's own photo may carry EXIF (camera serial, GPS). So,
unless merchants are shown the buyer's id anyway, they get the file with those parts removed:

* JPEG: the APP1 (EXIF, XMP), APP11 (JUMBF: C2PA), APP13 (IPTC) and comment segments are
  dropped; the coded image data is copied byte for byte, so the picture is unchanged.
* PNG: the ``caBX`` (C2PA), ``eXIf``, ``tEXt``, ``zTXt``, ``iTXt`` and ``tIME`` chunks are
  dropped.
* MP4/MOV: the C2PA ``uuid`` box becomes a ``free`` box of the same size filled with zeros
  (removing it would move the media data that the sample tables point to).

The file is read in chunks, so memory stays bounded whatever its size. What is served must
hold no C2PA manifest store: a file that does not parse as its type (a sealed receipt damaged
on the way: one stray byte, a cut transfer), of a type we do not redact, or with a store left
where we do not cut (after the image data), is withheld (``buyer_file_withheld``) rather than
served with the buyer's device certificate. Other files are served as stored.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import BinaryIO

from infra.errors import OrderSealError

__all__ = ["REDACTED_MEDIA_TYPES", "BuyerFileWithheldError", "redacted_chunks"]

#: The type UUID of a C2PA manifest store's JUMBF description box ("c2pa" + the JUMBF tail):
#: every manifest store holds it, and 16 chance bytes in a picture's data never do.
_MANIFEST_MARK = bytes.fromhex("6332706100110010800000aa00389b71")

_CHUNK = 256 * 1024
_JPEG_DROPPED = frozenset({0xE1, 0xEB, 0xED, 0xFE})
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_DROPPED = frozenset({b"caBX", b"eXIf", b"tEXt", b"zTXt", b"iTXt", b"tIME"})
#: The extended type c2pa gives its manifest box in ISO BMFF files.
_C2PA_UUID = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")

REDACTED_MEDIA_TYPES = frozenset({"image/jpeg", "image/png", "video/mp4", "video/quicktime"})


class _UnparsableError(Exception):
    """The bytes are not the container their type says."""


class BuyerFileWithheldError(OrderSealError):
    """The file holds something like a C2PA manifest where it could not be removed."""

    code = "buyer_file_withheld"
    http_status = 403


def redacted_chunks(handle: BinaryIO, media_type: str) -> Iterator[bytes]:
    """The file at ``handle`` (positioned at 0) without its identifying metadata, in chunks.

    A type we do not redact, or a file that does not parse as ``media_type``, comes back as
    stored. The check that nothing served holds a C2PA manifest store runs before the first
    chunk is produced, so a caller that primes the iterator can still answer with an error.

    Raises:
        BuyerFileWithheldError: ``buyer_file_withheld``: what would be served holds a store.
    """
    walker = {
        "image/jpeg": _jpeg,
        "image/png": _png,
        "video/mp4": _bmff,
        "video/quicktime": _bmff,
    }.get(media_type)
    if walker is not None:
        try:
            # Planned first (offsets only, nothing kept): a parse failure half-way must not
            # leave a half-redacted file on the wire.
            plan: list[_Step] | None = list(walker(handle))
        except (_UnparsableError, struct.error):
            plan = None
    else:
        plan = None
    if plan is None:
        plan = [(0, _size(handle), None)]
    if any(_holds_manifest(handle, offset, length) for offset, length, cut in plan if not cut):
        raise BuyerFileWithheldError(
            "the buyer's file holds Content Credentials where they cannot be removed (they "
            "name the buyer's device): it is withheld from merchants; agents see it"
        )
    yield from _emit(handle, plan)


def _holds_manifest(handle: BinaryIO, offset: int, length: int) -> bool:
    """Whether the ``length`` bytes at ``offset`` hold a C2PA manifest store's mark."""
    handle.seek(offset)
    tail = b""
    for data in _copy(handle, length):
        window = tail + data
        if _MANIFEST_MARK in window:
            return True
        tail = window[-(len(_MANIFEST_MARK) - 1) :]
    return False


# A plan is a list of (offset, length, replacement): copy ``length`` bytes from ``offset``, or,
# with a replacement header, write that header and then zeros for the rest of ``length``.
_Step = tuple[int, int, bytes | None]


def _emit(handle: BinaryIO, plan: list[_Step]) -> Iterator[bytes]:
    for offset, length, replacement in plan:
        if replacement is None:
            handle.seek(offset)
            yield from _copy(handle, length)
            continue
        yield replacement
        left = length - len(replacement)
        while left > 0:
            step = min(left, _CHUNK)
            yield bytes(step)
            left -= step


def _copy(handle: BinaryIO, length: int | None) -> Iterator[bytes]:
    left = length
    while left is None or left > 0:
        data = handle.read(_CHUNK if left is None else min(left, _CHUNK))
        if not data:
            if left:
                raise _UnparsableError("the file ended early")
            return
        if left is not None:
            left -= len(data)
        yield data


def _read(handle: BinaryIO, count: int) -> bytes:
    data = handle.read(count)
    if len(data) != count:
        raise _UnparsableError("the file ended early")
    return data


def _size(handle: BinaryIO) -> int:
    handle.seek(0, 2)
    size = handle.tell()
    handle.seek(0)
    return size


def _jpeg(handle: BinaryIO) -> Iterator[_Step]:
    size = _size(handle)
    if _read(handle, 2) != b"\xff\xd8":
        raise _UnparsableError("expected a JPEG start-of-image marker")
    yield (0, 2, None)
    while True:
        start = handle.tell()
        if _read(handle, 1) != b"\xff":
            raise _UnparsableError("expected a JPEG marker")
        marker = _read(handle, 1)[0]
        while marker == 0xFF:  # fill bytes before the marker code
            marker = _read(handle, 1)[0]
        if marker in _JPEG_STANDALONE:
            yield (start, handle.tell() - start, None)
            continue
        if marker == 0xD9:
            yield (start, size - start, None)
            return
        (length,) = struct.unpack(">H", _read(handle, 2))
        end = handle.tell() + length - 2
        if length < 2 or end > size:
            raise _UnparsableError("a JPEG segment runs past the end of the file")
        if marker == 0xDA:  # the scan: coded data and everything after it, as stored
            yield (start, size - start, None)
            return
        if marker not in _JPEG_DROPPED:
            yield (start, end - start, None)
        handle.seek(end)


def _png(handle: BinaryIO) -> Iterator[_Step]:
    size = _size(handle)
    if _read(handle, 8) != _PNG_SIGNATURE:
        raise _UnparsableError("expected the PNG signature")
    yield (0, 8, None)
    offset = 8
    while offset < size:
        handle.seek(offset)
        length, kind = struct.unpack(">I4s", _read(handle, 8))
        end = offset + 12 + length
        if end > size:
            raise _UnparsableError("a PNG chunk runs past the end of the file")
        if kind not in _PNG_DROPPED:
            yield (offset, end - offset, None)
        offset = end
        if kind == b"IEND":
            if offset < size:
                yield (offset, size - offset, None)
            return
    raise _UnparsableError("expected an IEND chunk")


def _bmff(handle: BinaryIO) -> Iterator[_Step]:
    size = _size(handle)
    offset = 0
    while offset < size:
        handle.seek(offset)
        length, kind = struct.unpack(">I4s", _read(handle, 8))
        header = 8
        if length == 1:
            (length,) = struct.unpack(">Q", _read(handle, 8))
            header = 16
        elif length == 0:
            length = size - offset
        if length < header or offset + length > size:
            raise _UnparsableError("a box runs past the end of the file")
        if kind == b"uuid" and length >= header + 16 and _read(handle, 16) == _C2PA_UUID:
            # Same size field (32- or 64-bit), type "free", zeros after.
            if header == 16:
                replacement = struct.pack(">I4sQ", 1, b"free", length)
            else:
                replacement = struct.pack(">I4s", length, b"free")
            yield (offset, length, replacement)
        else:
            yield (offset, length, None)
        offset += length
