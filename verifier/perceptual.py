"""Perceptual fingerprints for near-duplicate reuse: re-encoded, resized or slightly cropped
copies of a photo, and videos re-encoded from the same footage.

Photos get one 64-bit pHash; videos get the pHash of frames sampled evenly across the clip.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import av
import imagehash
from PIL import Image

from evidence.media import IMAGE_TYPES, VIDEO_TYPES
from evidence.thumbnails import DECODE_ERRORS

__all__ = ["IMAGE_DISTANCE", "fingerprint", "near_duplicate"]

#: Hamming distance (of 64 bits) under which two pHashes show the same picture. Measured on
#: 300 generated scenes: a 2% crop per side measures 0-12, a 4% crop 2-18 (so it is not
#: reliably caught), unrelated scenes 16+.
IMAGE_DISTANCE = 12
_VIDEO_SAMPLES = 6
_MAX_PIXELS = 100_000_000


def _image_hash(image: Image.Image) -> str:
    return str(imagehash.phash(image.convert("RGB")))


def _frame_hash(frame: av.VideoFrame) -> str:
    return _image_hash(frame.to_image())  # type: ignore[no-untyped-call]


def _photo(path: Path) -> list[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(path) as image:
            if image.width * image.height > _MAX_PIXELS:
                return []
            image.thumbnail((512, 512))
            return [_image_hash(image)]


def _video(path: Path) -> list[str]:
    hashes: list[str] = []
    with av.open(str(path)) as container:
        if not container.streams.video:  # a container without a picture track (fuzz finding)
            return hashes
        stream = container.streams.video[0]
        time_base = stream.time_base
        duration = float(stream.duration * time_base) if stream.duration and time_base else 0.0
        frames = stream.frames or 0
        if time_base is None or duration <= 0 or frames < _VIDEO_SAMPLES:
            for frame in container.decode(stream):
                hashes.append(_frame_hash(frame))
                if len(hashes) >= _VIDEO_SAMPLES:
                    break
            return hashes
        for index in range(_VIDEO_SAMPLES):
            target = duration * (index + 0.5) / _VIDEO_SAMPLES
            container.seek(int(target / time_base), stream=stream, any_frame=False, backward=True)
            for frame in container.decode(stream):
                hashes.append(_frame_hash(frame))
                break
    return hashes


def fingerprint(path: Path, media_type: str | None) -> list[str]:
    """Perceptual hashes of a photo or video; empty when it cannot be decoded."""
    try:
        if media_type in IMAGE_TYPES:
            return _photo(path)
        if media_type in VIDEO_TYPES:
            return _video(path)
    except DECODE_ERRORS:
        return []
    return []


def _distance(a: str, b: str) -> int:
    return int(imagehash.hex_to_hash(a) - imagehash.hex_to_hash(b))


def near_duplicate(ours: list[str], theirs: list[str]) -> bool:
    """Same picture, or most sampled frames of the same footage."""
    if not ours or not theirs:
        return False
    if len(ours) == 1 and len(theirs) == 1:
        return _distance(ours[0], theirs[0]) <= IMAGE_DISTANCE
    matched = sum(1 for a in ours if any(_distance(a, b) <= IMAGE_DISTANCE for b in theirs))
    return matched * 2 > len(ours)
