"""``python -m bench``: generate inputs, run every case in fresh processes, write JSON (and docs).

Every figure comes from the same run on the same machine: the SHA-256 and ECDSA floor,
plain c2pa-python, OrderSeal's sealing and verification functions and the HTTP service.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.backends import postgres_s3_env
from bench.fingerprints import RADII, run_all
from bench.inputs import make_mp4, make_noisy_jpeg, make_noisy_png
from bench.load import run_http_benchmark
from bench.report import write_markdown
from bench.webhooks import run_webhook_latency
from verifier.perceptual import RECOVERY_DISTANCE

_MB = 1_000_000


@dataclass(frozen=True)
class Input:
    """One generated input and how many timed runs each case gets on it."""

    name: str
    media_type: str
    reps: int
    kind: str  # "photo" or "video"


def _make_inputs(folder: Path, quick: bool, huge: bool) -> list[tuple[Input, Path]]:
    made: list[tuple[Input, Path]] = []
    photos = [("photo-1mp.jpg", 1152, 864, 30 if not quick else 10)]
    photos.append(("photo-12mp.jpg", 4000, 3000, 10 if not quick else 3))
    for name, width, height, reps in photos:
        path = make_noisy_jpeg(folder / name, width=width, height=height)
        made.append((Input(name, "image/jpeg", reps, "photo"), path))
    png = make_noisy_png(folder / "photo-3mp.png", width=2000, height=1500)
    made.append((Input("photo-3mp.png", "image/png", 10 if not quick else 3, "photo"), png))
    videos = [("video-10mb.mp4", 10 * _MB, 7 if not quick else 3)]
    if not quick:
        videos += [("video-100mb.mp4", 100 * _MB, 5), ("video-1gb.mp4", 1000 * _MB, 3)]
    if huge:
        videos.append(("video-4gb.mp4", 4000 * _MB, 1))
    for name, size, reps in videos:
        path = make_mp4(folder / name, size_bytes=size)
        made.append((Input(name, "video/mp4", reps, "video"), path))
    return made


def _child(case: str, path: Path, media_type: str, reps: int, keys: Path) -> dict[str, Any]:
    """Run one case in a fresh interpreter; returns its timing and memory summary."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    command = [sys.executable, "-m", "bench.child", case, str(path), media_type, str(reps)]
    output = subprocess.run(  # noqa: S603 - our own module
        [*command, str(keys)], capture_output=True, text=True, check=False, env=env
    )
    if output.returncode != 0:
        raise RuntimeError(f"bench case {case} on {path.name} failed:\n{output.stderr}")
    raw = json.loads(output.stdout.strip().splitlines()[-1])
    times = raw["times"]
    median = statistics.median(times)
    size = path.stat().st_size if path.exists() else 0
    return {
        "median_s": median,
        "min_s": min(times),
        "runs": len(times),
        "mb_per_s": (size / _MB / median) if size and median else None,
        "rss_before_mb": round(raw["rss_before_mb"], 1),
        "peak_rss_mb": round(raw["peak_rss_mb"], 1),
    }


def _upload_phases(
    photo: Path, home: Path, count: int, backend_env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Per-phase server time of a station upload (``bench.phases``, its own process)."""
    env = {
        **os.environ,
        **(backend_env or {}),
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
    }
    command = [sys.executable, "-m", "bench.phases", str(photo), str(home), str(count)]
    output = subprocess.run(  # noqa: S603 - our own module
        command, capture_output=True, text=True, check=False, env=env
    )
    if output.returncode != 0:
        raise RuntimeError(f"bench.phases failed:\n{output.stderr}")
    result: dict[str, Any] = json.loads(output.stdout.strip().splitlines()[-1])
    return result


def _ratio(value: float | None, base: float | None) -> float | None:
    return round(value / base, 2) if value and base else None


def _measure(item: Input, path: Path, keys: Path, ecdsa_s: float) -> dict[str, Any]:
    cases = {
        case: _child(case, path, item.media_type, item.reps, keys)
        for case in ("sha256", "plain_sign", "seal", "plain_read", "verify")
    }
    sha = cases["sha256"]["median_s"]
    seal_floor = sha + ecdsa_s
    for case in ("plain_sign", "seal"):
        cases[case]["ratio_to_floor"] = _ratio(cases[case]["median_s"], seal_floor)
    for case in ("plain_read", "verify"):
        cases[case]["ratio_to_floor"] = _ratio(cases[case]["median_s"], sha)
    cases["seal"]["ratio_to_plain"] = _ratio(
        cases["seal"]["median_s"], cases["plain_sign"]["median_s"]
    )
    cases["verify"]["ratio_to_plain"] = _ratio(
        cases["verify"]["median_s"], cases["plain_read"]["median_s"]
    )
    cases["verify"]["overhead_ms"] = round((cases["verify"]["median_s"] - sha) * 1000, 3)
    for suffix in ("sealed", "plain"):
        path.with_name(f"{path.stem}.{suffix}{path.suffix}").unlink(missing_ok=True)
    return {
        "name": item.name,
        "kind": item.kind,
        "media_type": item.media_type,
        "bytes": path.stat().st_size,
        "floor_seal_s": seal_floor,
        "floor_verify_s": sha,
        "cases": cases,
    }


def _machine() -> dict[str, Any]:
    cpu = "unknown"
    flags: set[str] = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and cpu == "unknown":
                cpu = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "sha_extensions": "sha_ni" in flags,
        "memory_gb": round(memory_gb, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "c2pa_python": metadata.version("c2pa-python"),
        "date": time.strftime("%Y-%m-%d"),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The whole benchmark; returns the JSON document."""
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="orderseal-bench-", dir=args.workdir))
    try:
        from infra.settings import Settings
        from orderseal.bootstrap import initialize_home

        keys_home = work / "keys-home"
        initialize_home(Settings(home=keys_home), quiet_dev_warning=True)
        keys = keys_home / "keys"
        inputs = _make_inputs(work, args.quick, args.huge)
        first_path = inputs[0][1]
        ecdsa = _child("ecdsa", first_path, "", 50 if args.quick else 500, keys)
        results = []
        for item, path in inputs:
            results.append(_measure(item, path, keys, ecdsa["median_s"]))
            if item.kind == "video" and item.name != "video-10mb.mp4":
                path.unlink()  # large inputs do not outlive their measurement
        http_kwargs: dict[str, Any] = {
            "seals": 60 if args.quick else 600,
            "verdicts": 120 if args.quick else 1200,
            "concurrency": 32,
            "sequential": 10 if args.quick else 50,
        }
        http = run_http_benchmark(work / "server-home", first_path, **http_kwargs)
        seal_fn = next(r for r in results if r["name"] == "photo-1mp.jpg")["cases"]["seal"]
        http_runs = [http]
        phases_pg = None
        deliveries = 30 if args.quick else 300
        webhooks = [run_webhook_latency(work / "webhook-home", count=deliveries)]
        if not args.quick and not args.no_postgres_s3:
            with postgres_s3_env() as env:
                webhooks.append(
                    run_webhook_latency(
                        work / "webhook-home-pg",
                        count=deliveries,
                        database_url=env["ORDERSEAL_DATABASE_URL"],
                    )
                )
                http_runs.append(
                    run_http_benchmark(
                        work / "server-home-pg",
                        first_path,
                        backend_env=env,
                        backend="PostgreSQL + S3 (SeaweedFS)",
                        **http_kwargs,
                    )
                )
                phases_pg = _upload_phases(first_path, work / "phases-home-pg", 200, env)
        for run_result in http_runs:
            run_result["seal_function_ms"] = round(seal_fn["median_s"] * 1000, 3)
            run_result["http_to_function_ratio"] = _ratio(
                run_result["seal_single_client"]["p50_ms"], seal_fn["median_s"] * 1000
            )
        return {
            "quick": args.quick,
            "machine": _machine(),
            "floor": {"ecdsa_sign": ecdsa},
            "inputs": results,
            "http": http,
            "http_runs": http_runs,
            "upload_phases": _upload_phases(
                first_path, work / "phases-home", 50 if args.quick else 300
            ),
            "upload_phases_postgres_s3": phases_pg,
            "webhooks": webhooks,
            **run_all(
                work,
                quick=args.quick,
                postgres=not args.quick and not args.no_postgres_s3,
                radius=RECOVERY_DISTANCE,
                radii=RADII,
            ),
            "seconds": round(time.perf_counter() - started, 1),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small inputs only, under a minute")
    parser.add_argument("--huge", action="store_true", help="also a 4 GB MP4 (minutes, disk)")
    parser.add_argument(
        "--no-postgres-s3",
        action="store_true",
        help="skip the HTTP run on PostgreSQL (127.0.0.1:5432) + a SeaweedFS S3 it starts",
    )
    parser.add_argument("--json", type=Path, default=Path("bench/results.json"))
    parser.add_argument("--doc", type=Path, default=None, help="markdown file to (re)write")
    parser.add_argument("--workdir", type=Path, default=None, help="where inputs go (tmp)")
    args = parser.parse_args()
    document = run(args)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {args.json} in {document['seconds']} s")
    if args.doc is not None:
        write_markdown(document, args.doc)
        print(f"wrote {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
