"""The webhook signing key files on disk: never readable by group or others.

Adversary: another local account (or a backup restored with loose modes) reading the ed25519
webhook key and forging verdict webhooks that every partner accepts. The rotation command
must leave each private key 0600, and a key file that others may read is refused before it
signs anything, as the sealing key's is.
"""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from keys.errors import KeyPermissionError
from keys.webhooks import (
    PREVIOUS_WEBHOOK_KEY_FILE,
    WEBHOOK_KEY_FILE,
    load_webhook_keys,
    rotate_webhook_key,
)

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_rotation_leaves_every_private_key_owner_only(tmp_path: Path) -> None:
    load_webhook_keys(tmp_path)
    for _ in range(2):
        rotate_webhook_key(tmp_path, now=NOW, overlap=timedelta(hours=72))
    for name in (WEBHOOK_KEY_FILE, PREVIOUS_WEBHOOK_KEY_FILE):
        assert _mode(tmp_path / name) == 0o600, name
    # No half-written part is left behind.
    assert not list(tmp_path.glob(".*.part"))


@pytest.mark.parametrize("name", [WEBHOOK_KEY_FILE, PREVIOUS_WEBHOOK_KEY_FILE])
def test_a_key_file_others_may_read_is_refused(tmp_path: Path, name: str) -> None:
    rotate_webhook_key(tmp_path, now=NOW, overlap=timedelta(hours=72))
    (tmp_path / name).chmod(0o644)
    with pytest.raises(KeyPermissionError) as caught:
        load_webhook_keys(tmp_path)
    assert caught.value.code == "key_permissions_too_open"
    # Rotating does not carry a loose current key over as the previous one either.
    if name == WEBHOOK_KEY_FILE:
        with pytest.raises(KeyPermissionError):
            rotate_webhook_key(tmp_path, now=NOW, overlap=timedelta(hours=72))
