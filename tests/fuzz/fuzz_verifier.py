"""Coverage-guided fuzzing (atheris) of the path from uploaded bytes to a verdict.

Each input is written to a file and examined as an attached dispute file would be:
``DisputeService.verify_files`` must return a verdict for any bytes, never raise; the capture
door (``check_structure``) may only refuse with a ``MediaError``. Seeds come from the bad-input
corpus (generated). Run for a bounded time::

    .venv/bin/python tests/fuzz/fuzz_verifier.py --seconds 300 [--artifacts DIR]

A crashing input is written to ``DIR/crash-*``; turn it into a regression test under
``tests/badinput`` (see ``tests/fuzz/README.md``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import warnings
from datetime import UTC, datetime
from pathlib import Path

import atheris

# Third-party libraries load uninstrumented (instrumenting them all takes most of a minute);
# coverage guidance comes from our own modules, imported inside the block.
import av  # noqa: F401
import c2pa  # noqa: F401
import cryptography.x509  # noqa: F401
import fastapi  # noqa: F401
import imagehash  # noqa: F401
import PIL.Image  # noqa: F401
import pydantic  # noqa: F401
import sqlalchemy.orm  # noqa: F401

with atheris.instrument_imports(include=["capture", "verifier", "infra", "keys"]):
    from evidence.errors import MediaError
    from evidence.media import sniff_media_type
    from evidence.structure import check_structure
    from verifier.facts import AttachedFile

from infra.settings import Settings
from keys.store import DevelopmentCAWarning
from orderseal.bootstrap import initialize_home
from orderseal.samples import make_jpeg
from orderseal.services import Services, build_services
from tests.badinput.corpus import build_corpus, foreign_sealed

_NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _services(home: Path) -> Services:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DevelopmentCAWarning)
        initialize_home(Settings(home=home))
    return build_services(Settings(home=home))


def _seed(folder: Path) -> None:
    work = folder.parent / "seed-work"
    work.mkdir(exist_ok=True)
    sealed = foreign_sealed(make_jpeg(work / "s.jpg", seed=1, size=(96, 72)), work / "sealed.jpg")
    for case in build_corpus(work / "corpus", sealed_jpeg=sealed):
        if case.data and len(case.data) < 200_000:
            (folder / case.name).write_bytes(case.data)
    (folder / "sealed").write_bytes(sealed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--artifacts", type=Path, default=None)
    args, rest = parser.parse_known_args()
    root = Path(tempfile.mkdtemp(prefix="orderseal-fuzz-"))
    services = _services(root / "home")
    seeds = root / "seeds"
    seeds.mkdir()
    _seed(seeds)
    sample = root / "input"

    def target(data: bytes) -> None:
        sample.write_bytes(data)
        if data:
            media_type = sniff_media_type(sample)
            if media_type is not None:
                try:
                    check_structure(sample, media_type, max_pixels=100_000_000)
                except MediaError:
                    pass
        verdict = services.verifier.verify_files(
            [AttachedFile(sample, "fuzz", "0" * 64)], order_id="ORD-FUZZ", buyer_id=None, now=_NOW
        )
        assert verdict.decision.value in ("allow", "review", "block")
        assert verdict.decision.value != "allow"

    artifacts = args.artifacts or root / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    argv = [
        sys.argv[0],
        *rest,
        f"-max_total_time={args.seconds}",
        "-max_len=262144",
        "-rss_limit_mb=4096",
        f"-artifact_prefix={artifacts}/",
        str(root / "corpus"),
        str(seeds),
    ]
    (root / "corpus").mkdir()
    atheris.Setup(argv, target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
