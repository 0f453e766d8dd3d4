"""Local-folder evidence store: the embedded default. Atomic writes, never overwrites."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from infra.storage.base import StorageError, key_for

__all__ = ["LocalEvidenceStore"]

_CHUNK = 1024 * 1024


class LocalEvidenceStore:
    """Blobs under ``root/sha256/ab/cd/<hash>``, read-only once written."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise StorageError("expected a key inside the store", code="invalid_key")
        return path

    def put_file(self, path: Path, sha256: str) -> str:
        key = key_for(sha256)
        final = self._path(key)
        if final.exists():
            path.unlink(missing_ok=True)
            return key
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
            shutil.move(path, tmp)
            os.chmod(tmp, 0o440)
            with tmp.open("rb") as handle:
                os.fsync(handle.fileno())
            # link() fails if the name exists, so a concurrent writer can never replace it.
            try:
                os.link(tmp, final)
            except FileExistsError:
                pass
            tmp.unlink()
        except OSError as exc:
            # Disk full or I/O error mid-copy: never leave a half-written blob behind.
            with contextlib.suppress(OSError, UnboundLocalError):
                tmp.unlink(missing_ok=True)
            raise StorageError("could not write evidence to the local store") from exc
        return key

    def ping(self) -> None:
        """Check the store folder exists and is writable (readiness probe)."""
        self.root.mkdir(parents=True, exist_ok=True)
        if not os.access(self.root, os.W_OK):
            raise StorageError("the evidence folder is not writable")

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    @contextlib.contextmanager
    def open_local(self, key: str) -> Iterator[Path]:
        path = self._path(key)
        if not path.exists():
            raise StorageError("expected stored evidence, found none", code="evidence_missing")
        yield path

    def iter_bytes(self, key: str) -> Iterator[bytes]:
        with self.open_local(key) as path, path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                yield chunk
