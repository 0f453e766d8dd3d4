"""The write-once evidence store interface: content-addressed, never overwritten."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

from infra.errors import UnavailableError

__all__ = ["EvidenceStore", "StorageError", "key_for"]


class StorageError(UnavailableError):
    """The evidence store could not complete an operation; the caller may retry."""

    code = "storage_unavailable"


def key_for(sha256: str) -> str:
    """Content address for a blob: ``sha256/ab/cd/abcd...``."""
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError("expected a lowercase hex SHA-256")
    return f"sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"


class EvidenceStore(Protocol):
    """Stores blobs by SHA-256. ``put`` of an existing blob is a no-op; nothing is replaced."""

    def put_file(self, path: Path, sha256: str) -> str:
        """Store the file at ``path`` (whose SHA-256 the caller computed) and return its key.

        The source file may be consumed (moved). Raises StorageError.
        """
        ...

    def ping(self) -> None:
        """Raise StorageError unless the store can take writes now (readiness)."""
        ...

    def exists(self, key: str) -> bool:
        """Whether a blob is stored under ``key``."""
        ...

    def open_local(self, key: str) -> AbstractContextManager[Path]:
        """Yield a local path holding the blob (a temp copy for remote stores)."""
        ...

    def iter_bytes(self, key: str) -> Iterator[bytes]:
        """Stream the blob in chunks (for HTTP downloads)."""
        ...
