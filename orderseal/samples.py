"""Sample media made on the fly for the demo, tests and benchmarks (real JPEG, PNG and MP4)."""

from __future__ import annotations

import io
import random
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image, ImageDraw, ImageOps

__all__ = ["label_in_view", "make_jpeg", "make_mp4", "make_png"]


def label_in_view(label_png: bytes) -> Image.Image:
    """The part of a printed parcel label a buyer films: the QR and the order number."""
    with Image.open(io.BytesIO(label_png)) as label:
        return label.convert("RGB").crop((0, 0, label.width, int(label.height * 0.9)))


def _scene(seed: int, size: tuple[int, int], caption: str) -> Image.Image:
    rng = random.Random(seed)  # noqa: S311 - reproducible pictures, not secrets
    image = Image.new("RGB", size, (rng.randrange(60, 200), rng.randrange(60, 200), 90))
    draw = ImageDraw.Draw(image)
    width, height = size
    for _ in range(24):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        x1, y1 = x0 + rng.randrange(20, width // 3), y0 + rng.randrange(20, height // 3)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        draw.rectangle((x0, y0, x1, y1), fill=colour)
    draw.text((12, 12), caption, fill=(255, 255, 255))
    return image


def make_jpeg(
    path: Path, *, seed: int, size: tuple[int, int] = (1024, 768), caption: str = ""
) -> Path:
    """Write a JPEG photo-like scene."""
    _scene(seed, size, caption).save(path, format="JPEG", quality=88)
    return path


def make_png(
    path: Path, *, seed: int, size: tuple[int, int] = (800, 600), caption: str = ""
) -> Path:
    """Write a PNG scene."""
    _scene(seed, size, caption).save(path, format="PNG")
    return path


def make_mp4(
    path: Path,
    *,
    seed: int,
    seconds: float = 2.0,
    size: tuple[int, int] = (320, 240),
    fps: int = 15,
    caption: str = "",
    container_format: str = "mp4",
    muxer_options: dict[str, str] | None = None,
    label: Image.Image | None = None,
) -> Path:
    """Write a short H.264 movie with moving content.

    ``container_format`` ``"mov"`` writes a QuickTime movie; ``muxer_options`` go to FFmpeg's
    muxer (``{"movflags": "faststart"}`` puts ``moov`` first, ``frag_keyframe+empty_moov``
    writes a fragmented MP4). ``label`` (``label_in_view``) is held in front of the camera in
    every frame, as a buyer shows the parcel's label while recording the unboxing; give the
    video a size its QR still reads at (640x480).
    """
    base = _scene(seed, size, caption)
    held = ImageOps.contain(label, (size[0] * 3 // 4, size[1] - 16)) if label else None
    with av.open(
        str(path), mode="w", format=container_format, options=muxer_options or {}
    ) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, fps)
        for index in range(max(1, int(seconds * fps))):
            frame_image = base.rotate(index * 3)
            if held is not None:
                frame_image.paste(held, ((size[0] - held.width) // 2, (size[1] - held.height) // 2))
            frame = av.VideoFrame.from_image(frame_image)  # type: ignore[no-untyped-call]
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
