"""Recapture score: generated screen photographs against honest captures (issue 19 §2).

Screen photographs: a generated scene shown on a simulated display (each pixel a block of
red, green and blue stripes with a dark gap row and column) and photographed: a small
rotation and perspective tilt, lens blur, resampled to the camera's resolution at a pitch
unrelated to the screen's (which makes moire), sensor noise, brightness, JPEG. Honest
captures: the same kind of scene photographed directly (blur, resampling, noise, JPEG), and
frames as the test suite feeds Chromium's fake camera (``tests.support.y4m``: the picture on a
table, 4:2:0 chroma, then the page's canvas JPEG). Figures only; never a timed test.
"""

from __future__ import annotations

import io
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

from bench.fingerprints import scene
from evidence.recapture import RECAPTURE_THRESHOLD, recapture_score

__all__ = [
    "fake_camera_frame",
    "plain_capture",
    "run_recapture",
    "sample_picture",
    "screen_photograph",
]


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def _noise(image: Image.Image, rng: np.random.Generator, sigma: float) -> Image.Image:
    pixels = np.asarray(image, dtype=np.float32) + rng.normal(
        0, sigma, (image.height, image.width, 3)
    )
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _display(picture: Image.Image, pitch: int) -> Image.Image:
    """The picture as a screen shows it: each pixel ``pitch`` x ``pitch`` device pixels, three
    sub-pixel stripes (R, G, B) with a dark last row and column (the grid)."""
    pixels = np.asarray(picture.convert("RGB"), dtype=np.float32)
    height, width = pixels.shape[:2]
    cell = np.zeros((pitch, pitch, 3), dtype=np.float32)
    stripe = max(1, (pitch - 1) // 3)
    for channel in range(3):
        cell[: pitch - 1, channel * stripe : (channel + 1) * stripe, channel] = 1.0
    screen = np.repeat(np.repeat(pixels, pitch, axis=0), pitch, axis=1)
    screen *= np.tile(cell, (height, width, 1)) * 2.2  # lit stripes are brighter than a pixel
    return Image.fromarray(np.clip(screen, 0, 255).astype(np.uint8))


def screen_photograph(seed: int) -> Image.Image:
    """A generated scene displayed on a simulated screen and photographed (see module)."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible test corpus, not secrets
    noise = np.random.default_rng(seed)
    picture = scene(seed).resize((320, 240), Image.Resampling.BILINEAR)
    shown = _display(picture, rng.choice((3, 4, 5, 6)))
    width, height = shown.size
    # Perspective: the corners move by a few per cent (a phone held not quite square).
    tilt = [rng.uniform(-0.03, 0.03) * width for _ in range(8)]
    quad = (
        tilt[0], tilt[1],
        tilt[2], height + tilt[3],
        width + tilt[4], height + tilt[5],
        width + tilt[6], tilt[7],
    )  # fmt: skip
    shot = shown.transform(shown.size, Image.Transform.QUAD, quad, Image.Resampling.BILINEAR)
    shot = shot.rotate(rng.uniform(-4, 4), Image.Resampling.BILINEAR)
    shot = shot.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.2)))
    scale = rng.uniform(0.42, 0.7)
    shot = shot.resize((int(width * scale), int(height * scale)), Image.Resampling.BILINEAR)
    shot = ImageEnhance.Brightness(shot).enhance(rng.uniform(0.8, 1.2))
    return _jpeg(_noise(shot, noise, rng.uniform(1.5, 4.0)), rng.randint(70, 92))


def plain_capture(seed: int) -> Image.Image:
    """A generated scene photographed directly: blur, resampling, sensor noise, JPEG."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible test corpus, not secrets
    noise = np.random.default_rng(seed)
    shot = scene(seed).filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))
    scale = rng.uniform(0.6, 1.5)
    shot = shot.resize(
        (int(shot.width * scale), int(shot.height * scale)), Image.Resampling.BILINEAR
    )
    return _jpeg(_noise(shot, noise, rng.uniform(1.5, 5.0)), rng.randint(60, 95))


def fake_camera_frame(seed: int) -> Image.Image:
    """A frame as the browser tests' fake camera delivers it: the picture on a table with the
    moving marker (``tests.support.y4m.scene_with``), 4:2:0 chroma, and the canvas JPEG."""
    from tests.support.y4m import scene_with

    frame = scene_with(scene(seed), index=seed % 30)
    y, cb, cr = frame.convert("YCbCr").split()
    half = (frame.width // 2, frame.height // 2)
    cb, cr = (c.resize(half, Image.Resampling.BOX).resize(frame.size) for c in (cb, cr))
    return _jpeg(Image.merge("YCbCr", (y, cb, cr)).convert("RGB"), 92)


def sample_picture(seed: int) -> Image.Image:
    """The test suite's sample photo (``orderseal.samples.make_jpeg``): flat rectangles with
    no sensor noise, the hardest honest case for a score that looks for sharp peaks."""
    from orderseal.samples import make_jpeg

    with tempfile.TemporaryDirectory() as scratch:
        path = make_jpeg(Path(scratch) / "sample.jpg", seed=seed)
        with Image.open(path) as image:
            return image.convert("RGB")


def _rates(scores: list[float], threshold: float) -> dict[str, float]:
    return {
        "n": len(scores),
        "min": min(scores),
        "p50": statistics.median(scores),
        "max": max(scores),
        "above": sum(1 for s in scores if s >= threshold) / len(scores),
    }


def run_recapture(*, samples: int) -> dict[str, Any]:
    """Scores of each corpus and the share at or above the threshold."""
    started = time.perf_counter()
    corpora = {
        "screen photographs": [
            recapture_score(screen_photograph(7_000 + n)) for n in range(samples)
        ],
        "plain captures": [recapture_score(plain_capture(8_000 + n)) for n in range(samples)],
        "fake camera frames": [
            recapture_score(fake_camera_frame(9_000 + n)) for n in range(samples)
        ],
        "sample pictures (flat graphics)": [
            recapture_score(sample_picture(10_000 + n)) for n in range(samples)
        ],
    }
    elapsed = time.perf_counter() - started
    screens = corpora["screen photographs"]
    honest = [s for name, values in corpora.items() if name != "screen photographs" for s in values]
    return {
        "threshold": RECAPTURE_THRESHOLD,
        "samples": samples,
        "corpora": {name: _rates(scores, RECAPTURE_THRESHOLD) for name, scores in corpora.items()},
        # Separation: the gap between the lowest screen photograph and the highest honest one.
        "separation": min(screens) - max(honest),
        "ms_per_photo": elapsed * 1000 / (len(corpora) * samples),
    }


def main() -> int:
    """``python -m bench.recapture``: the figures, spliced into the JSON results and (with
    ``--doc``) the benchmark page."""
    import argparse
    import json

    from bench.report import splice_recapture_section

    parser = argparse.ArgumentParser(prog="python -m bench.recapture")
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--json", type=Path, default=Path("bench/results.json"))
    parser.add_argument("--doc", type=Path, default=None)
    args = parser.parse_args()
    section = run_recapture(samples=args.samples)
    document = json.loads(args.json.read_text()) if args.json.exists() else {}
    document["recapture"] = section
    args.json.write_text(json.dumps(document, indent=2) + "\n")
    print(json.dumps(section, indent=1))
    if args.doc is not None:
        splice_recapture_section(args.doc, document)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
