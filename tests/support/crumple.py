"""A label as a camera sees it after the parcel travelled: tilted, creased, blurred, noisy.

Deterministic (seeded) degradations with Pillow and numpy, for decode tests of the label QR.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

__all__ = ["crumple"]


def _perspective_coefficients(
    source: list[tuple[float, float]], target: list[tuple[float, float]]
) -> list[float]:
    """Coefficients for ``Image.transform(PERSPECTIVE)`` mapping ``target`` onto ``source``."""
    rows = []
    for (x, y), (u, v) in zip(target, source, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    matrix = np.array(rows, dtype=float)
    values = np.array([c for point in source for c in point], dtype=float)
    return [float(c) for c in np.linalg.solve(matrix, values)]


def crumple(
    image: Image.Image,
    *,
    seed: int = 7,
    tilt: float = 0.08,
    blur_px: float = 2.0,
    noise: float = 18.0,
    crease: bool = True,
    width_px: int = 0,
) -> Image.Image:
    """The label photographed at an angle, with a crease shadow, blur and sensor noise.

    Args:
        image: the rendered label (any mode).
        seed: the random corner offsets and noise.
        tilt: how far each corner moves, as a fraction of the side.
        blur_px: gaussian blur radius (out of focus, motion).
        noise: standard deviation of gaussian noise on 0..255 grey.
        crease: darken a diagonal band (a fold's shadow) across the code.
        width_px: scale to this width first (a camera frame); 0 keeps the size.

    Returns:
        A greyscale image of the same size (after the optional scaling).
    """
    rng = np.random.default_rng(seed)
    grey = image.convert("L")
    if width_px:
        grey = grey.resize(
            (width_px, round(grey.height * width_px / grey.width)), Image.Resampling.LANCZOS
        )
    w, h = grey.size
    corners = [(0.0, 0.0), (float(w), 0.0), (float(w), float(h)), (0.0, float(h))]
    moved = [
        (x + rng.uniform(-tilt, tilt) * w, y + rng.uniform(-tilt, tilt) * h) for x, y in corners
    ]
    warped = grey.transform(
        (w, h),
        Image.Transform.PERSPECTIVE,
        _perspective_coefficients(corners, moved),
        resample=Image.Resampling.BILINEAR,
        fillcolor=200,
    )
    pixels = np.asarray(warped.filter(ImageFilter.GaussianBlur(blur_px)), dtype=float)
    if crease:
        yy, xx = np.mgrid[0:h, 0:w]
        band = np.abs((xx / w) - (yy / h) - 0.1) < 0.04
        pixels = np.where(band, pixels * 0.7, pixels)
    pixels = pixels + rng.normal(0.0, noise, pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), mode="L")
