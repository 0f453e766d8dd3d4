"""Sealing a movie in one copy and one hash pass: c2pa's placeholder ("embeddable") workflow.

``Builder.sign`` copies the asset into an intermediate store, hashes it and copies it again to
the output, in 8 KB writes (docs/benchmarks.md). c2pa-rs also offers the workflow its C API
calls *embeddable* signing: the builder composes a placeholder manifest of its final size (a
C2PA ``uuid`` box for MP4/MOV); the caller writes the asset with the placeholder where c2pa
itself puts the manifest (right after ``ftyp``); c2pa hashes that file once
(``update_hash_from_stream``) and returns the signed manifest with the placeholder's exact
length (``sign_embeddable``), which is written over the placeholder. The copy is
``copy_file_range`` in the kernel, so the cost is one copy plus the hash.

Inserting bytes after ``ftyp`` moves the media data, so the chunk offset tables (``stco`` and
``co64``) are shifted by the placeholder's length, as c2pa does in its own path. Layouts this
module does not rewrite (fragmented MP4, sample auxiliary offsets, item locations, a manifest
already present, 32-bit offsets that would overflow) raise :class:`EmbedUnsupportedError`,
and the caller seals them with ``Builder.sign``; so does a binding without these entry points.
Photos always take ``Builder.sign`` (see :func:`_plan`).

The C functions are part of c2pa-rs's C API but not wrapped by c2pa-python 0.38, so they are
called through ctypes on the binding's own library; :func:`available` checks for them once.
"""

from __future__ import annotations

import ctypes
import functools
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import c2pa

from capture.sealing import native_io

__all__ = ["ONE_PASS_MEDIA_TYPES", "EmbedUnsupportedError", "available", "seal_embedded"]

_C2PA_UUID = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")
# Boxes on the way to the sample tables. Metadata boxes (``udta``, ``meta`` in a track) hold
# no file offsets in MP4 or QuickTime movies, so they are copied as they are.
_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}
# Boxes holding absolute file offsets this module does not rewrite (fragments, sample
# auxiliary information, item locations of HEIF-style top-level ``meta``).
_UNSUPPORTED_BOXES = {b"moof", b"mfra", b"mvex", b"saio", b"iloc", b"sidx", b"ssix"}
_UNSUPPORTED_TOP_LEVEL = _UNSUPPORTED_BOXES | {b"meta"}
_MAX_MOOV_BYTES = 64 * 1024 * 1024
_COPY_CHUNK = 64 * 1024 * 1024
_READ_CHUNK = 1024 * 1024  # the fallback copy's buffer: memory stays bounded
ONE_PASS_MEDIA_TYPES = frozenset({"video/mp4", "video/quicktime"})


class EmbedUnsupportedError(Exception):
    """This file's layout is not one this module rewrites; seal it with ``Builder.sign``."""


@dataclass(frozen=True)
class _Plan:
    """Where the placeholder goes and which chunk offset tables of the source shift."""

    insert_at: int
    moov: tuple[int, int]  # (offset, size) of the box holding the tables
    offset_tables: tuple[tuple[int, int, bool], ...]  # (file offset, entries, 64-bit)


@functools.lru_cache(maxsize=1)
def _lib() -> Any | None:
    """The binding's native library with the embeddable functions typed, or None."""
    try:
        path = Path(c2pa.__file__).parent / "libs" / "libc2pa_c.so"
        lib = ctypes.CDLL(str(path))  # same library, our own function prototypes
        out = ctypes.POINTER(ctypes.POINTER(ctypes.c_ubyte))
        lib.c2pa_builder_placeholder.argtypes = [ctypes.c_void_p, ctypes.c_char_p, out]
        lib.c2pa_builder_placeholder.restype = ctypes.c_int64
        lib.c2pa_builder_sign_embeddable.argtypes = [ctypes.c_void_p, ctypes.c_char_p, out]
        lib.c2pa_builder_sign_embeddable.restype = ctypes.c_int64
        lib.c2pa_builder_update_hash_from_stream.argtypes = [
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.c_void_p,
        ]
        lib.c2pa_builder_update_hash_from_stream.restype = ctypes.c_int
        lib.c2pa_error.restype = ctypes.c_void_p
        lib.c2pa_free.argtypes = [ctypes.c_void_p]
    except (OSError, AttributeError):
        return None
    return lib


def available() -> bool:
    """Whether the binding exposes the embeddable workflow and native streams."""
    return native_io.available() and _lib() is not None


def _error(lib: Any, what: str) -> c2pa.C2paError:
    pointer = lib.c2pa_error()
    message = ctypes.string_at(pointer).decode(errors="replace") if pointer else "unknown error"
    if pointer:
        lib.c2pa_free(pointer)
    return c2pa.C2paError(f"{what}: {message}")


def _take_bytes(lib: Any, pointer: Any, length: int) -> bytes:
    try:
        return ctypes.string_at(pointer, length)
    finally:
        lib.c2pa_free(pointer)


# Layout planning ---------------------------------------------------------------------------
def _boxes(stream: BinaryIO, start: int, end: int) -> Iterator[tuple[bytes, int, int, int]]:
    """(type, offset, size, header size) of the boxes between ``start`` and ``end``."""
    offset = start
    while offset + 8 <= end:
        stream.seek(offset)
        header = stream.read(8)
        if len(header) < 8:
            raise EmbedUnsupportedError("truncated box header")
        size, kind = struct.unpack(">I4s", header)
        header_size = 8
        if size == 1:
            large = stream.read(8)
            if len(large) < 8:
                raise EmbedUnsupportedError("truncated box header")
            size, header_size = struct.unpack(">Q", large)[0], 16
        elif size == 0:
            size = end - offset
        if size < header_size or offset + size > end:
            raise EmbedUnsupportedError("box sizes do not add up")
        yield kind, offset, size, header_size
        offset += size
    if offset != end:
        raise EmbedUnsupportedError("trailing bytes after the last box")


def _offset_tables(stream: BinaryIO, start: int, end: int) -> list[tuple[int, int, bool]]:
    tables: list[tuple[int, int, bool]] = []
    for kind, offset, size, header_size in _boxes(stream, start, end):
        if kind in _UNSUPPORTED_BOXES:
            raise EmbedUnsupportedError(f"a {kind.decode(errors='replace')!r} box holds offsets")
        if kind in _CONTAINERS:
            tables += _offset_tables(stream, offset + header_size, offset + size)
        elif kind in (b"stco", b"co64"):
            stream.seek(offset + header_size + 4)  # version and flags
            (entries,) = struct.unpack(">I", stream.read(4))
            width = 8 if kind == b"co64" else 4
            if header_size + 8 + entries * width > size:
                raise EmbedUnsupportedError("chunk offset table longer than its box")
            tables.append((offset + header_size + 8, entries, kind == b"co64"))
    return tables


def _plan_bmff(stream: BinaryIO, file_size: int) -> _Plan:
    top = list(_boxes(stream, 0, file_size))
    if not top or top[0][0] != b"ftyp":
        raise EmbedUnsupportedError("expected an ftyp box first")
    moovs = [box for box in top if box[0] == b"moov"]
    if len(moovs) != 1:
        raise EmbedUnsupportedError("expected exactly one moov box")
    for kind, offset, _size, header_size in top:
        if kind in _UNSUPPORTED_TOP_LEVEL:
            raise EmbedUnsupportedError(f"a top-level {kind.decode(errors='replace')!r} box")
        if kind == b"uuid":
            stream.seek(offset + header_size)
            if stream.read(16) == _C2PA_UUID:
                raise EmbedUnsupportedError("the file already carries a C2PA manifest")
    _kind, moov_offset, moov_size, moov_header = moovs[0]
    if moov_size > _MAX_MOOV_BYTES:
        raise EmbedUnsupportedError("moov box too large to rewrite in memory")
    tables = _offset_tables(stream, moov_offset + moov_header, moov_offset + moov_size)
    return _Plan(
        insert_at=top[0][2],
        offset_tables=tuple(tables),
        moov=(moov_offset, moov_size),
    )


def _plan(source: Path, media_type: str) -> _Plan:
    with source.open("rb") as stream:
        size = source.stat().st_size
        if media_type in ONE_PASS_MEDIA_TYPES:
            return _plan_bmff(stream, size)
    # Photos: c2pa pads an embeddable JPEG/PNG manifest with zero bytes inside its APP11
    # segment or caBX chunk; c2pa reads that, but encypher-c2pa (tests/interop) refuses it,
    # and c2pa refuses any other framing of the padding. Photos keep Builder.sign.
    raise EmbedUnsupportedError(f"{media_type} is sealed with Builder.sign")


# Writing --------------------------------------------------------------------------------
def _copy_range(src_fd: int, dst_fd: int, start: int, count: int) -> None:
    """Append ``count`` bytes of the source from ``start`` to the destination, in the kernel.

    Falls back to bounded reads and writes where ``copy_file_range`` is refused (another
    file system pair, an old kernel).
    """
    end = start + count
    try:
        while start < end:
            done = os.copy_file_range(src_fd, dst_fd, min(end - start, _COPY_CHUNK), start)
            if done <= 0:
                raise OSError("the source ended before its planned length")
            start += done
    except OSError:
        if start >= end:
            raise
        while start < end:
            data = os.pread(src_fd, min(end - start, _READ_CHUNK), start)
            if not data:
                raise OSError("the source ended before its planned length") from None
            os.write(dst_fd, data)
            start += len(data)


def _shifted_moov(src_fd: int, plan: _Plan, shift: int) -> bytes:
    """The moov box with every chunk offset moved by ``shift`` bytes."""
    moov_offset, moov_size = plan.moov
    box = bytearray(os.pread(src_fd, moov_size, moov_offset))
    for table_offset, entries, wide in plan.offset_tables:
        layout = f">{entries}{'Q' if wide else 'I'}"
        start = table_offset - moov_offset
        shifted = [value + shift for value in struct.unpack_from(layout, box, start)]
        if shifted and max(shifted) >= 1 << (64 if wide else 32):
            raise EmbedUnsupportedError("32-bit chunk offsets would overflow")
        struct.pack_into(layout, box, start, *shifted)
    return bytes(box)


def _write_with_placeholder(source: Path, dest: Path, plan: _Plan, placeholder: bytes) -> None:
    src_fd = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
    try:
        dst_fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            size = os.fstat(src_fd).st_size
            _copy_range(src_fd, dst_fd, 0, plan.insert_at)
            os.write(dst_fd, placeholder)
            moov_offset, moov_size = plan.moov
            _copy_range(src_fd, dst_fd, plan.insert_at, moov_offset - plan.insert_at)
            os.write(dst_fd, _shifted_moov(src_fd, plan, len(placeholder)))
            tail = moov_offset + moov_size
            _copy_range(src_fd, dst_fd, tail, size - tail)
        finally:
            os.close(dst_fd)
    finally:
        os.close(src_fd)


def seal_embedded(builder: c2pa.Builder, media_type: str, source: Path, dest: Path) -> None:
    """Sign ``source`` into ``dest`` through a placeholder; the builder's context signs.

    Raises:
        EmbedUnsupportedError: the layout or the binding is outside this path (nothing written
            that matters: the caller seals ``dest`` afresh).
        c2pa.C2paError: c2pa refused the manifest, the hash or the signature.
        OSError: a file could not be read or written.
    """
    lib = _lib()
    handle = getattr(builder, "_handle", None)
    if lib is None or not handle or not native_io.available():
        raise EmbedUnsupportedError("this c2pa binding does not expose embeddable signing")
    plan = _plan(source, media_type)  # before c2pa sees anything: refusals cost nothing
    fmt = media_type.encode()
    out = ctypes.POINTER(ctypes.c_ubyte)()
    length = lib.c2pa_builder_placeholder(handle, fmt, ctypes.byref(out))
    if length <= 0:
        raise _error(lib, "c2pa could not compose a placeholder")
    placeholder = _take_bytes(lib, out, length)
    _write_with_placeholder(source, dest, plan, placeholder)
    fd = os.open(dest, os.O_RDWR | os.O_CLOEXEC)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
        stream = native_io.FdStream(fd)
        try:
            if lib.c2pa_builder_update_hash_from_stream(handle, fmt, stream.handle) < 0:
                raise _error(lib, "c2pa could not hash the file")
        finally:
            stream.close()
        signed_out = ctypes.POINTER(ctypes.c_ubyte)()
        signed_length = lib.c2pa_builder_sign_embeddable(handle, fmt, ctypes.byref(signed_out))
        if signed_length <= 0:
            raise _error(lib, "c2pa could not sign the manifest")
        signed = _take_bytes(lib, signed_out, signed_length)
        if len(signed) != len(placeholder):
            raise c2pa.C2paError("c2pa returned a manifest of another size than its placeholder")
        os.pwrite(fd, signed, plan.insert_at)
    finally:
        os.close(fd)
