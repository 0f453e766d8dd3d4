"""Write Y4M files for Chromium's fake camera (``--use-file-for-fake-video-capture``).

Format: a ``YUV4MPEG2 W H F30:1 Ip A1:1 C420jpeg`` header line, then per frame ``FRAME\\n``
followed by the Y plane and the 2x2-subsampled Cb and Cr planes.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from PIL import Image, ImageDraw, ImageOps

__all__ = ["scene_with", "write_y4m"]

FRAME_SIZE = (640, 480)


def scene_with(
    picture: Image.Image, *, index: int, size: tuple[int, int] = FRAME_SIZE
) -> Image.Image:
    """Place ``picture`` on a table-like background, with a moving marker so video changes."""
    frame = Image.new("RGB", size, (118, 92, 66))
    fitted = ImageOps.contain(picture.convert("RGB"), (size[0] - 40, size[1] - 24))
    left, top = (size[0] - fitted.width) // 2, (size[1] - fitted.height) // 2
    frame.paste(fitted, (left, top))
    draw = ImageDraw.Draw(frame)
    x = 8 + (index * 9) % (size[0] - 40)
    draw.rectangle((x, size[1] - 10, x + 24, size[1] - 2), fill=(230, 60, 40))
    return frame


def write_y4m(path: Path, frames: Iterable[Image.Image]) -> Path:
    """Write RGB frames (all the same even size) as a 4:2:0 Y4M file."""
    with path.open("wb") as out:
        header_written = False
        for frame in frames:
            width, height = frame.size
            if not header_written:
                out.write(f"YUV4MPEG2 W{width} H{height} F30:1 Ip A1:1 C420jpeg\n".encode())
                header_written = True
            y, cb, cr = frame.convert("YCbCr").split()
            half = (width // 2, height // 2)
            out.write(b"FRAME\n")
            out.write(y.tobytes())
            out.write(cb.resize(half, Image.Resampling.BOX).tobytes())
            out.write(cr.resize(half, Image.Resampling.BOX).tobytes())
    return path
