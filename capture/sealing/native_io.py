"""Sign with c2pa over file descriptors, with no Python in the read/write loop.

c2pa-python wraps every stream in Python callbacks: the native library asks for 8 KB at a
time, so sealing a 1 GB video makes about 250,000 Python calls, each taking the GIL (other
requests of the same worker wait) and copying through a ``bytes`` object. The native stream
API (``c2pa_create_stream``) takes plain C function pointers and an opaque context pointer
that it passes back unchanged, and the C library's ``read``, ``write`` and ``lseek`` already
have those signatures when the context is a file descriptor:

* ``read(ctx, buf, len)`` / ``write(ctx, buf, len)`` -> ``ssize_t`` (bytes, -1 on error);
* ``lseek(ctx, offset, whence)`` -> new position; c2pa's seek modes 0/1/2 are SEEK_SET/CUR/END;
* flush: ``fsync`` would force a disk write, so a do-nothing function is used: ``isatty`` on
  a regular file returns 0, which c2pa reads as success (written data is in the page cache
  either way; durability is the evidence store's job).

This uses internals of c2pa-python 0.38 (``c2pa.c2pa._lib``, the callback types and
``Builder._sign_internal``). :func:`available` checks them once; when they are missing (a
different binding version, a platform without a C library) the caller falls back to the
public stream API, which gives the same bytes, only slower.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import sys
from pathlib import Path
from typing import Any

import c2pa

__all__ = ["FdStream", "available", "sign_files"]


@functools.lru_cache(maxsize=1)
def _native() -> tuple[Any, Any, Any, Any, Any] | None:
    """The binding's library and our four callbacks, or None when unsupported."""
    if sys.platform != "linux":
        return None
    try:
        core: Any = c2pa.c2pa
        lib = core._lib
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        if not hasattr(c2pa.Builder, "_sign_internal"):
            return None
        callbacks = (
            ctypes.cast(libc.read, core.ReadCallback),
            ctypes.cast(libc.lseek, core.SeekCallback),
            ctypes.cast(libc.write, core.WriteCallback),
            ctypes.cast(libc.isatty, core.FlushCallback),
        )
        context_type = ctypes.POINTER(core.StreamContext)
        lib.c2pa_create_stream.restype  # noqa: B018 - AttributeError if the symbol is missing
        lib.c2pa_release_stream.restype  # noqa: B018
    except (AttributeError, OSError):
        return None
    return lib, callbacks, context_type, core, libc


def available() -> bool:
    """Whether signing over file descriptors is supported by this c2pa binding."""
    return _native() is not None


class FdStream:
    """A native c2pa stream reading and writing one file descriptor (duck-types ``Stream``)."""

    def __init__(self, fd: int) -> None:
        native = _native()
        if native is None:  # pragma: no cover - callers check available() first
            raise RuntimeError("native c2pa streams are not available")
        lib, callbacks, context_type, _core, _libc = native
        self._lib = lib
        # fd 0 would be a NULL context; our files never get it, but refuse rather than guess.
        if fd <= 0:
            raise ValueError(f"expected a file descriptor above 0, found {fd}")
        self._stream = lib.c2pa_create_stream(
            ctypes.cast(ctypes.c_void_p(fd), context_type), *callbacks
        )
        if not self._stream:
            raise c2pa.C2paError("c2pa could not create a native stream")

    @property
    def handle(self) -> Any:
        """The native ``C2paStream`` pointer, for calls into the C library."""
        return self._stream

    def close(self) -> None:
        if self._stream:
            self._lib.c2pa_release_stream(self._stream)
            self._stream = None


def sign_files(
    builder: c2pa.Builder, signer: c2pa.Signer, media_type: str, source: Path, dest: Path
) -> None:
    """Sign ``source`` into ``dest`` (created or truncated) with ``builder``.

    Raises:
        c2pa.C2paError: c2pa refused the file or the signature.
        OSError: a file could not be opened.
    """
    src_fd = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
    try:
        dst_fd = os.open(dest, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            # Sealed copies are read back right after (store upload): tell the kernel.
            os.posix_fadvise(src_fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
            src, dst = FdStream(src_fd), FdStream(dst_fd)
            try:
                builder._sign_internal(media_type, src, dst, signer=signer)
            finally:
                src.close()
                dst.close()
        finally:
            os.close(dst_fd)
    finally:
        os.close(src_fd)
