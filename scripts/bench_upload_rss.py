"""Peak memory of the capture service while it receives, seals and stores large videos.

For each size it starts a fresh ``orderseal serve`` (one process), warms it up with a small
photo, then streams one MP4 of that size through the station client and reads the server's
peak resident set (``VmHWM`` in /proc/<pid>/status) before and after. The MP4 is a real H.264
clip padded with a top-level ``free`` box: c2pa's BMFF hash covers every byte of it, so the
service does the same work as for real footage of that size.

Usage: ``.venv/bin/python scripts/bench_upload_rss.py 100 1024`` (sizes in MiB).
Not part of the test suite: the 1 GiB run needs ~5 GB of disk and about a minute.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from clients.client import DeviceKey, PlatformClient, StationClient
from orderseal.samples import make_jpeg, make_mp4

_MIB = 1024 * 1024


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc status")


def padded_mp4(path: Path, size_bytes: int) -> Path:
    """A real MP4 grown to ``size_bytes`` with a top-level ``free`` box (64-bit size)."""
    make_mp4(path, seed=1, seconds=1.0, size=(320, 240))
    pad = size_bytes - path.stat().st_size - 16
    block = os.urandom(_MIB)
    with path.open("ab") as out:
        out.write((1).to_bytes(4, "big") + b"free" + (pad + 16).to_bytes(8, "big"))
        while pad > 0:
            out.write(block[: min(pad, _MIB)])
            pad -= min(pad, _MIB)
    return path


def run_one(size_mib: int, work: Path) -> dict[str, float]:
    """Start a server, upload one video of ``size_mib``, return the figures."""
    home = work / f"home-{size_mib}"
    port = _free_port()
    env = dict(os.environ, ORDERSEAL_HOME=str(home), ORDERSEAL_PORT=str(port))
    orderseal = str(Path(sys.executable).with_name("orderseal"))
    subprocess.run([orderseal, "init"], env=env, check=True, capture_output=True)  # noqa: S603
    server = subprocess.Popen(  # noqa: S603 - our own CLI
        [orderseal, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        keys = json.loads((home / "credentials.json").read_text())
        admin = PlatformClient(base, keys["admin"])
        platform = PlatformClient(base, keys["platform"])
        device = DeviceKey.generate(f"bench-{secrets.token_hex(3)}")
        admin.call(
            "POST",
            "/v1/devices",
            json={"device_id": device.device_id, "kind": "station", "csr_pem": device.csr_pem()},
        )
        platform.call(
            "POST",
            "/v1/orders",
            json={
                "order_id": "BENCH-1",
                "buyer_id": "bench-buyer",
                "items": [{"sku": "X", "quantity": 1}],
                "declared_value": "1.00",
                "currency": "EUR",
            },
        )
        station = StationClient(base, device, timeout=3600)
        session = station.open_session("BENCH-1")
        station.upload(session, make_jpeg(work / "warm.jpg", seed=2), title="warm.jpg")
        baseline = _peak_rss_mib(server.pid)
        video = padded_mp4(work / f"video-{size_mib}.mp4", size_mib * _MIB)
        started = time.monotonic()
        sealed = station.upload(session, video, title="big.mp4")
        elapsed = time.monotonic() - started
        peak = _peak_rss_mib(server.pid)
        video.unlink()
        if sealed["media_type"] != "video/mp4":
            raise RuntimeError(f"expected a sealed MP4, got {sealed['media_type']}")
        return {
            "size_mib": size_mib,
            "baseline_peak_rss_mib": round(baseline, 1),
            "peak_rss_mib": round(peak, 1),
            "seconds": round(elapsed, 1),
        }
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    """Print one JSON line per size."""
    sizes = [int(a) for a in sys.argv[1:]] or [100, 1024]
    with tempfile.TemporaryDirectory(prefix="orderseal-bench-") as scratch:
        for size in sizes:
            print(json.dumps(run_one(size, Path(scratch))), flush=True)


if __name__ == "__main__":
    main()
