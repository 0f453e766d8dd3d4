"""Recapture score: how much a photo looks like a photograph of a screen (advice only).

A screen is a grid of pixels, each of lit sub-pixel stripes with dark gaps between them. A
camera that photographs it samples that grid at an unrelated pitch, so the photo carries
narrow periodic peaks in its 2-D spectrum: the grid's own frequency where the lens resolves
it, and moire (the beat between the grid and the camera's sensor) where it does not. A
scene in front of a camera has a smooth, roughly 1/f spectrum instead.

The score: the luminance, reduced to at most ``_MAX_SIDE`` pixels a side (bounded CPU; the
moire survives the reduction, being a low beat frequency), cut into ``_TILE`` square tiles,
each windowed and transformed. Each spectrum's smooth trend (the mean at each radius) is
removed; the tile's score is how far its strongest few remaining peaks in the mid and high
frequencies stand above the rest (in robust standard deviations). The photo's score is the
median over its tiles, so one regular texture (a fabric, a grille) in one corner does not
make a whole photo suspect. Two kinds of honest periodicity are left out: the axes (straight
edges and the frame border smear along them) and the lines at multiples of 1/8 cycle per
pixel, where JPEG's 8x8 blocks put their own peaks.

It is a heuristic with a measured false-positive rate (docs/benchmarks.md, "Recapture"): a
photo of a real grid, a knitted jumper or window blinds can score high. So it never blocks; it
is shown to agents, and a policy may route it to review (docs/policy.md).
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from evidence.media import IMAGE_TYPES
from evidence.thumbnails import DECODE_ERRORS

__all__ = ["RECAPTURE_THRESHOLD", "load_recapture_score", "recapture_score"]

#: Score at or above which a photo is called a suspected recapture. Chosen from the generated
#: corpus (``python -m bench.recapture``, docs/benchmarks.md, 100 per corpus): plain captures
#: and fake-camera frames measured 2.2-3.7 (none at 5); noiseless flat graphics (the test
#: suite's sample pictures) 3.9-5.5 (2 % at 5); screen photographs 2.9-8.6 (p50 6.5, 78 % at
#: 5; the low ones are blurred past their grid).
RECAPTURE_THRESHOLD = 5.0

_MAX_SIDE = 1024
_TILE = 256
_MAX_TILES = 9
_PEAKS = 6
_MAX_PIXELS = 100_000_000


def _tiles(luma: np.ndarray) -> list[np.ndarray]:
    """Up to ``_MAX_TILES`` tiles spread over the picture (a grid of 3 x 3 at most)."""
    height, width = luma.shape
    size = min(_TILE, height, width)
    if size < 64:
        return []
    ys = np.linspace(0, height - size, num=min(3, max(1, height // size))).astype(int)
    xs = np.linspace(0, width - size, num=min(3, max(1, width // size))).astype(int)
    return [luma[y : y + size, x : x + size] for y in ys for x in xs][:_MAX_TILES]


@functools.cache
def _geometry(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per tile size: each frequency's ring, the ring sizes, and the frequencies scored."""
    fy, fx = np.mgrid[0:size, 0:size] - size // 2
    radius = np.hypot(fx, fy).astype(int)
    block = size // 8
    near_block = (np.abs(((fx + block // 2) % block) - block // 2) <= 1) | (
        np.abs(((fy + block // 2) % block) - block // 2) <= 1
    )
    mask = (
        (radius >= size * 0.06)
        & (radius <= size * 0.49)
        & (np.abs(fx) > 2)
        & (np.abs(fy) > 2)
        & ~near_block
        & (fy >= 0)  # the spectrum of a real picture is symmetric: count each peak once
    )
    return radius, np.bincount(radius.ravel()), mask


def _tile_score(tile: np.ndarray) -> float:
    size = tile.shape[0]
    radius, counts, mask = _geometry(size)
    window = np.outer(np.hanning(size), np.hanning(size))
    spectrum = np.log1p(np.abs(np.fft.fftshift(np.fft.fft2((tile - tile.mean()) * window))))
    # The smooth trend: each ring's mean (a 1/f spectrum is a function of the radius alone).
    trend = np.bincount(radius.ravel(), weights=spectrum.ravel()) / np.maximum(counts, 1)
    values = (spectrum - trend[radius])[mask]
    if values.size < 100:
        return 0.0
    median = float(np.median(values))
    spread = float(np.median(np.abs(values - median))) * 1.4826 or 1e-6
    peaks = np.partition(values, -_PEAKS)[-_PEAKS:]
    return float((peaks.mean() - median) / spread)


def recapture_score(image: Image.Image) -> float:
    """The photo's recapture score (higher: more like a photographed screen); 0 for a
    picture too small to tell."""
    grey = image.convert("L")
    if max(grey.size) > _MAX_SIDE:
        grey = grey.copy()
        grey.thumbnail((_MAX_SIDE, _MAX_SIDE), Image.Resampling.BOX)
    luma = np.asarray(grey, dtype=np.float32)
    scores = [_tile_score(tile) for tile in _tiles(luma)]
    return round(float(np.median(scores)), 2) if scores else 0.0


def load_recapture_score(path: Path, media_type: str | None) -> float | None:
    """The score of a photo file; None for a video, another type, or an undecodable file."""
    if media_type not in IMAGE_TYPES:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                if image.width * image.height > _MAX_PIXELS:
                    return None
                # JPEG decodes straight at a reduced scale (DCT scaling): the cheap downscale.
                image.draft("L", (_MAX_SIDE, _MAX_SIDE))
                return recapture_score(image)
    except DECODE_ERRORS:
        return None
