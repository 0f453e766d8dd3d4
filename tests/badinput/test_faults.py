"""Faults of the embedded deployment: the local evidence disk fills up.

(SeaweedFS stopped, PostgreSQL unreachable and SIGKILL mid-upload are covered on the
production stack by ``tests/integration/test_outages.py`` and ``test_workers.py``.)

The store folder is a 2 MiB tmpfs mounted by the test (it runs as root, as CI does). A full
disk must give a retryable 503 with a stable code, leave no partial record and no half-written
file, and the same running server must recover once space is free again.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from clients.client import APIError
from infra.settings import Settings
from keys.store import DevelopmentCAWarning
from orderseal.app import create_app
from orderseal.bootstrap import initialize_home, load_credentials
from orderseal.samples import make_jpeg
from orderseal.server import serve_in_thread
from orderseal.services import build_services
from tests.badinput.state import stored
from tests.conftest import free_port
from tests.support import flows
from tests.support.require import missing


def _mount(folder: Path, size: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        missing(f"expected to mount a tmpfs (root): {result.stderr.strip()}")


@dataclass
class Stack:
    settings: Settings
    base_url: str
    credentials: dict[str, str]
    store: Path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("fault-home")
    store = home / "evidence"
    _mount(store, "2m")
    try:
        settings = Settings(home=home, port=free_port(), database_url="", storage="local")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DevelopmentCAWarning)
            initialize_home(settings)
        services = build_services(settings)
        app = create_app(settings, services=services)
        with serve_in_thread(app, host="127.0.0.1", port=settings.port):
            yield Stack(settings, settings.base_url, load_credentials(settings), store)
    finally:
        subprocess.run(["umount", "-l", str(store)], check=False)


def _store_is_sound(store: Path) -> None:
    """Every stored blob is complete: its content hashes to its name; no temp files remain."""
    for path in store.rglob("*"):
        if path.is_file() and path.name != "filler":
            assert not path.name.endswith(".tmp"), f"half-written file left: {path.name}"
            assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name


def test_disk_full_in_local_store(stack: Stack, tmp_path: Path) -> None:
    cast = flows.actors(stack.base_url, stack.credentials)
    order_id = flows.register_order(cast)
    session = cast.station.open_session(order_id)
    photo = make_jpeg(tmp_path / "big.jpg", seed=21, size=(1024, 768))
    filler = stack.store / "filler"
    free = os.statvfs(stack.store).f_bavail * os.statvfs(stack.store).f_frsize
    filler.write_bytes(b"\0" * max(0, free - photo.stat().st_size // 2))
    before = stored(stack.settings)
    try:
        with pytest.raises(APIError) as caught:
            cast.station.upload(session, photo, title="full.jpg", idempotency_key="full-1")
        assert (caught.value.status, caught.value.code) == (503, "storage_unavailable")
        assert stored(stack.settings).rows == before.rows
        _store_is_sound(stack.store)
    finally:
        filler.unlink()
    sealed = cast.station.upload(session, photo, title="full.jpg", idempotency_key="full-1")
    again = cast.station.upload(session, photo, title="full.jpg", idempotency_key="full-1")
    assert sealed["replayed"] is False
    assert again["replayed"] is True
    assert again["evidence_id"] == sealed["evidence_id"]
    assert stored(stack.settings).rows["evidence"] == before.rows["evidence"] + 1
    _store_is_sound(stack.store)
