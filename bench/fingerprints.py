"""Perceptual recovery: calibration on a generated corpus, and the fingerprint index at scale.

Calibration: each "sealed" photo is transformed the ways a stripped copy reaches a dispute
(JPEG q30-95, resize 25-100 %, crop up to 10 %, a screenshot-like re-render with app bars,
brightness +-15 %) and looked up the way the gate does (``evidence.fingerprints``, bars trimmed,
best distance over the query hashes); unrelated generated images measure the false matches.
Index: ``infra.ledger.fingerprint_index`` filled with random 64-bit hashes, lookups timed at
the calibrated radius. Figures only; never a timed test.
"""

from __future__ import annotations

import io
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance

from evidence.fingerprints import hamming, image_query_hashes, to_int

__all__ = ["TRANSFORMS", "run_calibration", "run_index_benchmark", "scene"]

_W, _H = 640, 480


def scene(seed: int) -> Image.Image:
    """A generated unboxing-like picture: a textured floor, a parcel, objects, a label."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible test corpus, not secrets
    noise = np.random.default_rng(seed)
    base = np.array([rng.randrange(256) for _ in range(3)], dtype=np.float32)
    tilt = np.array([rng.uniform(-120, 120) for _ in range(3)], dtype=np.float32)
    ys, xs = np.mgrid[0:_H, 0:_W].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    ramp = (np.cos(angle) * xs / _W + np.sin(angle) * ys / _H)[..., None]
    pixels = base + tilt * ramp + noise.normal(0, 12, (_H, _W, 3))
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(3, 9)):
        x0, y0 = rng.randrange(_W), rng.randrange(_H)
        x1, y1 = x0 + rng.randint(30, 300), y0 + rng.randint(30, 250)
        colour = tuple(rng.randrange(256) for _ in range(3))
        if rng.random() < 0.5:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        else:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
    px, py = rng.randint(60, 300), rng.randint(60, 200)
    draw.rectangle((px, py, px + 260, py + 180), fill=(170, 120, 70), outline=(90, 60, 30))
    draw.rectangle((px + 40, py + 40, px + 150, py + 110), fill=(250, 250, 250))
    draw.text((px + 50, py + 60), f"ORD-{seed:06d}", fill=(0, 0, 0))
    return image


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def _resize(image: Image.Image, share: float) -> Image.Image:
    size = (max(8, int(image.width * share)), max(8, int(image.height * share)))
    return _jpeg(image.resize(size, Image.Resampling.BILINEAR), 85)


def _crop(image: Image.Image, share: float) -> Image.Image:
    """Crop ``share`` of the width and height, split unevenly between the sides."""
    dx, dy = int(image.width * share), int(image.height * share)
    left, top = dx // 3, dy * 2 // 3
    return _jpeg(image.crop((left, top, image.width - (dx - left), image.height - (dy - top))), 85)


def screenshot(image: Image.Image, *, width: int = 390, scale: int = 3) -> Image.Image:
    """The picture as a phone screenshot of a chat: scaled to the screen, between a status
    bar, a chat header and a message bar (flat bars with text and icons), saved as JPEG."""
    screen_w = width * scale
    photo_h = int(image.height * screen_w / image.width)
    status, header, footer = 47 * scale, 56 * scale, 84 * scale
    canvas = Image.new("RGB", (screen_w, status + header + photo_h + footer), (18, 18, 20))
    canvas.paste(image.resize((screen_w, photo_h), Image.Resampling.LANCZOS), (0, status + header))
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((0, status, screen_w, status + header), fill=(32, 33, 36))
    draw.text((20 * scale, 16), "9:41", fill=(255, 255, 255))
    draw.text((60 * scale, status + 20 * scale), "Support chat", fill=(240, 240, 240))
    bottom = status + header + photo_h
    draw.rectangle((0, bottom, screen_w, bottom + footer), fill=(245, 245, 247))
    draw.rounded_rectangle(
        (16 * scale, bottom + 14 * scale, screen_w - 60 * scale, bottom + 50 * scale),
        radius=18 * scale,
        outline=(200, 200, 205),
        width=scale,
    )
    draw.text((28 * scale, bottom + 26 * scale), "Message", fill=(140, 140, 145))
    return _jpeg(canvas, 80)


def _brightness(image: Image.Image, factor: float) -> Image.Image:
    return _jpeg(ImageEnhance.Brightness(image).enhance(factor), 85)


TRANSFORMS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "jpeg q95": lambda i: _jpeg(i, 95),
    "jpeg q70": lambda i: _jpeg(i, 70),
    "jpeg q50": lambda i: _jpeg(i, 50),
    "jpeg q30": lambda i: _jpeg(i, 30),
    "resize 100%": lambda i: _resize(i, 1.0),
    "resize 75%": lambda i: _resize(i, 0.75),
    "resize 50%": lambda i: _resize(i, 0.5),
    "resize 25%": lambda i: _resize(i, 0.25),
    "crop 2%": lambda i: _crop(i, 0.02),
    "crop 5%": lambda i: _crop(i, 0.05),
    "crop 10%": lambda i: _crop(i, 0.10),
    "screenshot": screenshot,
    "brightness -15%": lambda i: _brightness(i, 0.85),
    "brightness +15%": lambda i: _brightness(i, 1.15),
}


def _hashes(image: Image.Image, folder: Path, name: str) -> list[int]:
    del folder, name
    return [to_int(h) for h in image_query_hashes(image)]


def _best(query: list[int], sealed: int) -> int:
    return min(hamming(q, sealed) for q in query)


def run_calibration(*, originals: int, unrelated: int, radii: tuple[int, ...]) -> dict[str, Any]:
    """Recall per transformation and false matches per radius, on generated pictures."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        sealed: list[int] = []
        distances: dict[str, list[int]] = {name: [] for name in TRANSFORMS}
        for index in range(originals):
            image = scene(1_000_000 + index)
            (own,) = _hashes(image, folder, "sealed")[:1]
            sealed.append(own)
            for name, transform in TRANSFORMS.items():
                distances[name].append(_best(_hashes(transform(image), folder, "copy"), own))
        nearest: list[int] = []
        pair_counts = dict.fromkeys(radii, 0)
        for index in range(unrelated):
            query = _hashes(scene(index), folder, "other")
            row = [_best(query, s) for s in sealed]
            nearest.append(min(row))
            for radius in radii:
                pair_counts[radius] += sum(1 for d in row if d <= radius)
    pairs = originals * unrelated
    recall = {
        name: {str(r): sum(1 for d in values if d <= r) / len(values) for r in radii}
        for name, values in distances.items()
    }
    return {
        "originals": originals,
        "unrelated": unrelated,
        "radii": list(radii),
        "recall": recall,
        "distance_p50": {name: statistics.median(v) for name, v in distances.items()},
        "distance_max": {name: max(v) for name, v in distances.items()},
        "false_pair_rate": {str(r): pair_counts[r] / pairs for r in radii},
        "false_query_rate": {
            str(r): sum(1 for d in nearest if d <= r) / len(nearest) for r in radii
        },
        "unrelated_nearest_min": min(nearest),
        "unrelated_nearest_p01": sorted(nearest)[len(nearest) // 100],
    }


def _settle(engine: Any) -> None:
    """What the database's own upkeep does to a table that grew by inserts: statistics for
    the planner (without them PostgreSQL guesses a band probe matches 2 % of the table and
    scans it) and, on PostgreSQL, the visibility map that lets a probe read the index alone.
    A server's autovacuum does both (inserts trigger it since PostgreSQL 13); a bulk load in
    one transaction outruns it, and this machine's test server runs with autovacuum off."""
    from sqlalchemy import text

    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                text("VACUUM (ANALYZE) fingerprints")
            )
        else:
            connection.execute(text("ANALYZE fingerprints"))
            connection.commit()


def run_index_benchmark(
    database_url: str, *, items: int, lookups: int, radius: int
) -> dict[str, Any]:
    """Fill a fresh ledger's fingerprint index with random hashes and time lookups."""
    from infra.db import create_ledger_engine, create_schema, session_factory
    from infra.ledger.fingerprint_index import FingerprintIndex
    from infra.ledger.sessions import GuardedSessions

    engine = create_ledger_engine(database_url)
    create_schema(engine)
    index = FingerprintIndex(GuardedSessions(session_factory(engine)))
    rng = random.Random(19)  # noqa: S311 - reproducible synthetic hashes
    values = [rng.getrandbits(64) for _ in range(items)]
    started = time.perf_counter()
    index.bulk_load_for_benchmark(values)
    load_s = time.perf_counter() - started
    _settle(engine)
    for _ in range(50):  # warm the page cache, as a running server's would be
        index.lookup([rng.getrandbits(64)], radius=radius)
    times: list[float] = []
    found = 0
    for n in range(lookups):
        target = values[rng.randrange(items)] if n % 2 == 0 else rng.getrandbits(64)
        flipped = target ^ (1 << rng.randrange(64)) ^ (1 << rng.randrange(64))
        begin = time.perf_counter()
        matches = index.lookup([flipped], radius=radius)
        times.append(time.perf_counter() - begin)
        found += bool(matches.matches) and n % 2 == 0
    engine.dispose()
    times.sort()
    return {
        "items": items,
        "lookups": lookups,
        "radius": radius,
        "load_s": load_s,
        "p50_ms": times[len(times) // 2] * 1000,
        "p99_ms": times[min(len(times) - 1, int(len(times) * 0.99))] * 1000,
        "max_ms": times[-1] * 1000,
        "planted_found": found / max(1, (lookups + 1) // 2),
        # The machine's run queue when the lookups ended: a shared machine stretches them.
        "load_average_1m": os.getloadavg()[0],
    }


def run_all(
    work: Path, *, quick: bool, postgres: bool, radius: int, radii: tuple[int, ...]
) -> dict[str, Any]:
    """Both sections of the document: ``recovery_calibration`` and ``fingerprint_index``."""
    calibration = run_calibration(
        originals=3 if quick else 200, unrelated=20 if quick else 10_000, radii=radii
    )
    runs = run_index_runs(work, quick=quick, postgres=postgres, radius=radius)
    return {"recovery_calibration": calibration, "fingerprint_index": runs}


def run_index_runs(work: Path, *, quick: bool, postgres: bool, radius: int) -> list[dict[str, Any]]:
    """The index benchmark on SQLite and (``postgres``) a fresh PostgreSQL database."""
    items, lookups = (2_000, 50) if quick else (1_000_000, 2_000)
    runs = [
        {
            "backend": "SQLite",
            **run_index_benchmark(
                f"sqlite:///{work / 'fingerprints.sqlite3'}",
                items=items,
                lookups=lookups,
                radius=radius,
            ),
        }
    ]
    if postgres:
        from tests.support.databases import fresh_database_url

        with fresh_database_url(postgres=True) as url:
            runs.append(
                {
                    "backend": "PostgreSQL",
                    **run_index_benchmark(url, items=items, lookups=lookups, radius=radius),
                }
            )
    return runs


def main() -> int:
    """``python -m bench.fingerprints``: the full-size figures alone, spliced into the JSON
    results and the benchmark page (the rest of ``python -m bench`` is not rerun)."""
    import argparse
    import json

    from bench.report import splice_recovery_section
    from verifier.perceptual import RECOVERY_DISTANCE

    parser = argparse.ArgumentParser(prog="python -m bench.fingerprints")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--json", type=Path, default=Path("bench/results.json"))
    parser.add_argument("--doc", type=Path, default=None)
    # One part at a time: the full calibration and the 10^6 index take minutes each, and the
    # other part's figures stay as the JSON results hold them.
    # "none" measures nothing: the page is rendered again from the JSON results.
    parser.add_argument("--part", choices=("all", "calibration", "index", "none"), default="all")
    parser.add_argument("--unrelated", type=int, default=None)
    args = parser.parse_args()
    sections: dict[str, Any] = {}
    if args.part in ("all", "calibration"):
        unrelated = args.unrelated or (20 if args.quick else 10_000)
        sections["recovery_calibration"] = run_calibration(
            originals=3 if args.quick else 200, unrelated=unrelated, radii=RADII
        )
    if args.part in ("all", "index"):
        with tempfile.TemporaryDirectory() as scratch:
            sections["fingerprint_index"] = run_index_runs(
                Path(scratch),
                quick=args.quick,
                postgres=not args.no_postgres,
                radius=RECOVERY_DISTANCE,
            )
    document = json.loads(args.json.read_text()) if args.json.exists() else {}
    document.update(sections)
    args.json.write_text(json.dumps(document, indent=2) + "\n")
    print(json.dumps(sections, indent=1))
    if args.doc is not None:
        splice_recovery_section(args.doc, document)
    return 0


#: Radii reported in the calibration table (the chosen one is ``RECOVERY_DISTANCE``).
RADII = (3, 4, 5, 6, 7, 8, 10, 12)

if __name__ == "__main__":
    raise SystemExit(main())
