"""Attach latency of a large video: verified in the request versus handed to the job queue.

``python -m bench.attach [--mb 200] [--reps 3]`` prints the median time of the attach service
call both ways on a fresh home (SQLite, local store): inline is what a file up to
``ORDERSEAL_INLINE_VERIFY_MAX_BYTES`` costs the request (media sniff, C2PA read, perceptual
fingerprint, store); queued is what a larger one costs (sniff, store, one transaction with
the attached row and its job). Reception of the body is the same both ways and left out.
Prints figures; never a timed test.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
import warnings
from decimal import Decimal
from pathlib import Path

from bench.inputs import make_mp4
from infra.media import ReceivedFile, sha256_file
from infra.settings import Settings

__all__ = ["run_attach_latency"]


def run_attach_latency(home: Path, video: Path, *, reps: int) -> dict[str, float]:
    """Median seconds of ``attach_upload`` (inline) and ``attach_queued`` over ``reps``."""
    from keys.store import DevelopmentCAWarning
    from orderseal.bootstrap import initialize_home
    from orderseal.services import build_services

    settings = Settings(home=home, jobs_mode="worker", jobs_max_pending_per_dispute=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DevelopmentCAWarning)
        initialize_home(settings, quiet_dev_warning=True)
    services = build_services(settings)
    disputes = services.verifier
    sha256 = sha256_file(video)
    timings: dict[str, list[float]] = {"inline": [], "queued": []}
    for rep in range(reps):
        for mode in ("inline", "queued"):
            dispute = disputes.file_dispute(
                order_id=f"ord-bench-{mode}-{rep}",
                buyer_id="buyer-bench",
                claim_type="damaged",
                amount=Decimal("1.00"),
                currency="USD",
                now=services.clock(),
            )
            copy = home / f"upload-{mode}-{rep}.mp4"
            shutil.copyfile(video, copy)
            received = ReceivedFile(copy, copy.stat().st_size, sha256)
            began = time.perf_counter()
            if mode == "inline":
                disputes.attach_upload(dispute.dispute_id, received, "v.mp4", now=services.clock())
            else:
                disputes.attach_queued(
                    dispute.dispute_id, received, "v.mp4", owner="bench", now=services.clock()
                )
            timings[mode].append(time.perf_counter() - began)
    return {mode: statistics.median(values) for mode, values in timings.items()}


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="video size in MiB")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="orderseal-bench-attach-") as folder:
        work = Path(folder)
        video = make_mp4(work / "video.mp4", size_bytes=args.mb * 2**20)
        result = run_attach_latency(work / "home", video, reps=args.reps)
    print(f"attach of a {args.mb} MiB MP4, median of {args.reps}:")
    for mode, seconds in result.items():
        print(f"  {mode:7} {seconds * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
