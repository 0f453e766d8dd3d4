"""Receipt videos for the label-sighting tests: H.264 MP4 frames with the parcel label in view.

Frames are the fake camera's scenes (``tests.support.y4m.scene_with``): the label, or a plain
box, on a table, with a moving marker. Timestamps are set per frame, so a test can splice two
takes together with a jump in the timeline.
"""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image, ImageDraw

from tests.support.y4m import scene_with

__all__ = ["label_top", "write_receipt_video"]


def label_top(label_png: bytes) -> Image.Image:
    """The part of the printed label a buyer points the phone at: QR and order number."""
    label = Image.open(io.BytesIO(label_png))
    return label.crop((0, 0, label.width, int(label.height * 0.9)))


def _box() -> Image.Image:
    box = Image.new("RGB", (400, 300), (170, 130, 90))
    ImageDraw.Draw(box).rectangle((20, 20, 380, 280), outline=(90, 60, 40), width=8)
    return box


def write_receipt_video(
    path: Path,
    *,
    label: Image.Image | None,
    seconds: float = 3.0,
    fps: int = 15,
    label_from_s: float = 0.0,
    label_until_s: float | None = None,
    jump_at_s: float | None = None,
    jump_s: float = 0.0,
    size: tuple[int, int] = (640, 480),
) -> Path:
    """Write an MP4 whose frames show ``label`` from ``label_from_s`` until ``label_until_s``.

    Args:
        path: where to write.
        label: the label picture (``label_top``), or None for a video without one.
        seconds: length before any jump.
        fps: frame rate.
        label_from_s: first second the label is in view.
        label_until_s: when it leaves the view (None: until the end).
        jump_at_s: a splice: from this second on, timestamps jump by ``jump_s``.
        jump_s: the size of the jump.
        size: the frame size.

    Returns:
        ``path``.
    """
    box = _box()
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, fps)
        stream.options = {"bf": "0"}
        for index in range(max(1, int(seconds * fps))):
            at = index / fps
            in_view = (
                label is not None
                and at >= label_from_s
                and (label_until_s is None or at < label_until_s)
            )
            picture = label if in_view and label is not None else box
            frame = av.VideoFrame.from_image(scene_with(picture, index=index, size=size))  # type: ignore[no-untyped-call]
            shift = round(jump_s * fps) if jump_at_s is not None and at >= jump_at_s else 0
            frame.pts = index + shift
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
