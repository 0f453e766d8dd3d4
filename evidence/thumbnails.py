"""Agent thumbnails and video posters, made lazily outside the seal path and cached."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import av
from PIL import Image

__all__ = ["DECODE_ERRORS", "make_thumbnail", "render_thumbnail"]

_SIZE = (480, 480)

#: What Pillow and PyAV raise on a file they cannot decode (bombs included): the answer is
#: "no picture", never a 500.
DECODE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    ValueError,
    SyntaxError,  # Pillow's answer to a broken PNG chunk (fuzz finding)
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,
    av.FFmpegError,
)


def _poster(path: Path) -> Image.Image | None:
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            image: Image.Image = frame.to_image()  # type: ignore[no-untyped-call]
            return image
    return None


def make_thumbnail(source: Path, media_type: str, cache: Path) -> bytes | None:
    """JPEG thumbnail (photo) or poster frame (video), cached at ``cache``; None if undecodable."""
    if cache.exists():
        return cache.read_bytes()
    data = render_thumbnail(source, media_type)
    if data is None:
        return None
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".part")
    tmp.write_bytes(data)
    tmp.replace(cache)
    return data


def render_thumbnail(source: Path, media_type: str) -> bytes | None:
    """The JPEG thumbnail (photo) or poster frame (video) of ``source``; None if undecodable."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            if media_type.startswith("video/"):
                image = _poster(source)
            else:
                with Image.open(source) as opened:
                    image = opened.convert("RGB")
            if image is None:
                return None
            image.thumbnail(_SIZE)
            out = io.BytesIO()
            image.convert("RGB").save(out, format="JPEG", quality=80)
    except DECODE_ERRORS:
        return None
    return out.getvalue()
