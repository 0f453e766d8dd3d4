"""Locate the repository root and the shared third-party C2PA fixtures.

The fixtures live next to the repository (``<repo>/../shared/c2pa-fixtures``), not in it.
Under ``CI=true`` a missing fixtures folder fails the run; elsewhere it skips with a reason.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.require import missing

__all__ = ["fixtures_dir", "repo_root", "require_fixtures_dir"]


def repo_root() -> Path:
    """Return the repository root (the folder holding ``pyproject.toml``)."""
    return Path(__file__).resolve().parents[2]


def fixtures_dir() -> Path:
    """Return where the shared C2PA fixtures should be; it may not exist."""
    return (repo_root() / ".." / "shared" / "c2pa-fixtures").resolve()


def require_fixtures_dir() -> Path:
    """Return the fixtures folder, or fail (``CI=true``) / skip (elsewhere) when missing."""
    folder = fixtures_dir()
    if (folder / "MANIFEST.tsv").is_file():
        return folder
    missing(f"shared C2PA fixtures not found at {folder} (expected MANIFEST.tsv there)")
