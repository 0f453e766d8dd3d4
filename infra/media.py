"""Upload intake helpers: bounded streaming to a temporary file, hashing as it goes.

The media type of what arrived is sniffed by :mod:`evidence.media` (infra imports nothing of
ours above it).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path

from infra.errors import InputError

__all__ = [
    "PayloadTooLargeError",
    "ReceivedFile",
    "receive_chunks",
    "receive_stream",
    "sha256_file",
]

_CHUNK = 1024 * 1024


class PayloadTooLargeError(InputError):
    """The body is larger than the limit for its kind."""

    code = "payload_too_large"
    http_status = 413


@dataclass(frozen=True)
class ReceivedFile:
    """A fully received upload: where it sits, how big it is and its SHA-256."""

    path: Path
    size: int
    sha256: str


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _open_temp(directory: Path) -> tuple[int, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=directory, prefix="upload-", suffix=".part")
    return fd, Path(name)


async def receive_stream(
    chunks: AsyncIterator[bytes], directory: Path, *, max_bytes: int
) -> ReceivedFile:
    """Stream ``chunks`` into a temp file in ``directory``, hashing as it goes.

    Raises:
        PayloadTooLargeError: more than ``max_bytes`` arrived (the partial file is removed).
        InputError: the body was empty.
    """
    fd, path = _open_temp(directory)
    digest = hashlib.sha256()
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLargeError(
                        f"expected at most {max_bytes} bytes, the upload is larger"
                    )
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise InputError("expected a file, found an empty body", code="empty_file")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return ReceivedFile(path=path, size=size, sha256=digest.hexdigest())


def receive_chunks(chunks: Iterable[bytes], directory: Path, *, max_bytes: int) -> ReceivedFile:
    """Synchronous twin of ``receive_stream`` for the CLI and local files."""
    fd, path = _open_temp(directory)
    digest = hashlib.sha256()
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLargeError(
                        f"expected at most {max_bytes} bytes, the file is larger"
                    )
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise InputError("expected a file, found an empty one", code="empty_file")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return ReceivedFile(path=path, size=size, sha256=digest.hexdigest())
