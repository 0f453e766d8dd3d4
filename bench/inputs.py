"""Benchmark inputs made on the spot: noisy photos and large MP4s that c2pa can seal."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

__all__ = ["make_mp4", "make_noisy_jpeg", "make_noisy_png"]

_CLIP_FRAMES = 8


def _noisy_pixels(width: int, height: int, seed: int, noise: int) -> np.ndarray:
    """A smooth gradient with sensor-like noise: compresses like a real photo, not like a flat
    test card."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    base = np.stack([(x + y) / 2, np.broadcast_to(x, (height, width)), 255 - (x + y) / 2], axis=2)
    base = np.clip(base, 16, 239)
    grain = rng.integers(-noise, noise + 1, (height, width, 3), dtype=np.int16)
    pixels: np.ndarray = np.clip(base.astype(np.int16) + grain, 0, 255).astype(np.uint8)
    return pixels


def make_noisy_jpeg(path: Path, *, width: int, height: int, seed: int = 1) -> Path:
    """Write a JPEG of ``width`` x ``height`` (12 MP at 4000x3000 is about 4-5 MB)."""
    pixels = _noisy_pixels(width, height, seed, noise=24)
    Image.fromarray(pixels).save(path, format="JPEG", quality=92)
    return path


def make_noisy_png(path: Path, *, width: int, height: int, seed: int = 2) -> Path:
    """Write a PNG of ``width`` x ``height``."""
    pixels = _noisy_pixels(width, height, seed, noise=6)
    Image.fromarray(pixels).save(path, format="PNG", compress_level=1)
    return path


def _encode_clip(path: Path, seed: int) -> None:
    """A few intra-only (every frame a keyframe) lossless noise frames: big packets that
    can be repeated in any order and still decode."""
    rng = np.random.default_rng(seed)
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height = 640, 480
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "0", "g": "1", "preset": "ultrafast"}
        for index in range(_CLIP_FRAMES):
            data = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(data, format="rgb24")
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def make_mp4(path: Path, *, size_bytes: int, seed: int = 3) -> Path:
    """Write a real H.264 MP4 of about ``size_bytes`` quickly (about 1 s per GB).

    A short clip is encoded once, then its packets are muxed again and again with rising
    timestamps: the result is a valid MP4 (ftyp, mdat, moov with co64 when over 4 GB) that
    decodes and that c2pa seals like any camera file.
    """
    clip = path.with_name(path.name + ".clip.mp4")
    _encode_clip(clip, seed)
    try:
        with av.open(str(clip)) as source:
            template = source.streams.video[0]
            packets = [
                (bytes(packet), packet.duration or 1)
                for packet in source.demux(template)
                if packet.size
            ]
            time_base = template.time_base or Fraction(1, 15360)
            with av.open(str(path), mode="w", format="mp4") as out:
                stream = out.add_stream_from_template(template)
                written, pts = 0, 0
                while written < size_bytes:
                    for data, duration in packets:
                        packet = av.Packet(data)
                        packet.pts = packet.dts = pts
                        packet.duration = duration
                        packet.time_base = time_base
                        packet.is_keyframe = True
                        packet.stream = stream
                        out.mux(packet)
                        pts += duration
                        written += len(data)
                        if written >= size_bytes:
                            break
    finally:
        clip.unlink(missing_ok=True)
    return path
