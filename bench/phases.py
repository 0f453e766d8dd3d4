"""Where a station upload's time goes inside the server: per-phase timers on one process.

``python -m bench.phases PHOTO HOME COUNT`` starts the API in this process (one worker, on
the backends the ``ORDERSEAL_*`` environment names: SQLite and the local store by default),
wraps the upload pipeline's phases with timers, sends COUNT signed
uploads of PHOTO one at a time and prints JSON: the median client latency and, per phase,
the mean milliseconds per upload. Run in its own process: it patches classes in place.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["PHASES", "main"]

# (label, owner module, attribute path): the phases of one upload, outermost first.
PHASES: tuple[tuple[str, str, str], ...] = (
    ("stream the body to disk, SHA-256", "capture.routes.uploads", "receive_body"),
    ("device row, certificate", "capture.devices", "DeviceService.identity"),
    ("request nonce (ledger commit)", "infra.ledger.repository", "Ledger.use_nonce"),
    ("request signature", "capture.auth", "verify_signature"),
    ("service work (all below)", "capture.uploads", "UploadService.seal_upload"),
    ("session lookup", "capture.uploads", "UploadService._own_open_session"),
    ("device attestation", "capture.uploads", "UploadService._check_statement"),
    ("structure check", "capture.uploads", "check_structure"),
    ("sealing function", "capture.sealing.seal", "Sealer.seal"),
    ("SHA-256 of the sealed file", "capture.uploads", "sha256_file"),
    ("store the sealed file (fsync)", "infra.storage.local", "LocalEvidenceStore.put_file"),
    ("store the sealed file (S3 PUT)", "infra.storage.s3", "S3EvidenceStore.put_file"),
    ("&nbsp;&nbsp;HEAD: already stored?", "infra.storage.s3", "S3EvidenceStore.exists"),
    ("ledger row (commit)", "infra.ledger.repository", "Ledger.add_evidence"),
)


def _wrap(
    totals: dict[str, float], calls: dict[str, int], label: str, module: str, attribute: str
) -> None:
    owner: Any = __import__(module, fromlist=["_"])
    *parents, name = attribute.split(".")
    for parent in parents:
        owner = getattr(owner, parent)
    original: Callable[..., Any] = getattr(owner, name)
    if asyncio.iscoroutinefunction(original):

        @functools.wraps(original)
        async def timed_async(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                totals[label] += time.perf_counter() - started
                calls[label] += 1

        setattr(owner, name, timed_async)
        return

    @functools.wraps(original)
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            totals[label] += time.perf_counter() - started
            calls[label] += 1

    setattr(owner, name, timed)


def main(argv: list[str]) -> int:
    """Measure and print the JSON."""
    photo, home, count = Path(argv[0]), Path(argv[1]), int(argv[2])
    os.environ.update({"ORDERSEAL_HOME": str(home), "ORDERSEAL_RATE_LIMIT_UPLOADS_PER_MINUTE": "0"})
    orderseal = Path(sys.executable).with_name("orderseal")
    subprocess.run([str(orderseal), "init"], check=True, capture_output=True)  # noqa: S603
    totals: dict[str, float] = collections.defaultdict(float)
    calls: dict[str, int] = collections.defaultdict(int)
    for label, module, attribute in PHASES:
        _wrap(totals, calls, label, module, attribute)

    from bench.load import _drive, _free_port, _station_session, _upload_requests
    from infra.memory import reuse_large_buffers
    from infra.settings import Settings
    from orderseal.app import create_app
    from orderseal.server import serve_in_thread

    reuse_large_buffers()
    port = _free_port()
    with serve_in_thread(create_app(Settings()), host="127.0.0.1", port=port):
        base_url = f"http://127.0.0.1:{port}"
        credentials = json.loads((home / "credentials.json").read_text())
        station, order_id, session_id = _station_session(base_url, credentials)
        body = photo.read_bytes()
        warm = _upload_requests(station, session_id, order_id, photo, 10)
        asyncio.run(_drive(base_url, "PUT", warm, body, 1, 201))
        totals.clear()
        calls.clear()
        requests = _upload_requests(station, session_id, order_id, photo, count)
        result = asyncio.run(_drive(base_url, "PUT", requests, body, 1, 201))
    phases = [  # phases this backend never entered (the other store) are left out
        {"phase": label, "ms": round(totals[label] / count * 1000, 3)}
        for label, _module, _attribute in PHASES
        if calls.get(label)
    ]
    print(json.dumps({"client_p50_ms": round(result.p50_ms, 3), "phases": phases}))
    return 0 if result.errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
