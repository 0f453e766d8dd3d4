"""Perceptual fingerprints of photos and videos: what survives a stripped, re-encoded copy.

Photos get one 64-bit pHash (DCT of a 32x32 grey thumbnail, the sign of the 8x8 low
frequencies against their median; ``imagehash.phash``); videos get the pHash of frames sampled
evenly across the clip. Capture writes them into the seal (``c2pa.soft-binding``) and the
ledger's fingerprint index; the verifier computes them for a submitted file to find the sealed
original of a stripped copy, and near copies on other disputes.

A screenshot puts the picture between an app's bars (status bar, chat header, navigation):
:func:`query_fingerprints` also hashes the picture with such flat bars trimmed, so a lookup
sees the photo, not the phone's chrome. Only lookups do that; a seal hashes the camera's file.
"""

from __future__ import annotations

import itertools
import warnings
from pathlib import Path

import av
import imagehash
import numpy as np
from PIL import Image

from evidence.media import IMAGE_TYPES, VIDEO_TYPES
from evidence.thumbnails import DECODE_ERRORS

__all__ = [
    "SOFT_BINDING_ALG",
    "SOFT_BINDING_LABEL",
    "fingerprint",
    "hamming",
    "image_query_hashes",
    "query_fingerprints",
    "to_int",
    "trimmed_variants",
]

#: The C2PA soft binding assertion label (C2PA 2.2 §9.3 / §18.9 "Soft binding").
SOFT_BINDING_LABEL = "c2pa.soft-binding"
#: Our entity-specific algorithm name (not on the C2PA soft binding algorithm list): a
#: 64-bit DCT pHash as ``imagehash.phash`` computes it (hash_size 8, highfreq_factor 4), the
#: value as 16 lowercase hex digits, one block per photo or per sampled video frame.
SOFT_BINDING_ALG = "org.orderseal.phash64.v1"

_VIDEO_SAMPLES = 6
_MAX_PIXELS = 100_000_000
#: A bar is a run of edge rows (or columns) where this share of the pixels is within
#: ``_BAR_TOLERANCE`` of the line's median colour.
_BAR_TOLERANCE = 10
_FLAT_SHARE = 0.7
#: Candidate cuts per edge, and trimmed variants per lookup (each is one more query hash, so
#: the false-match rate measured in the benchmark already counts them).
_CUTS_PER_EDGE = 3
_MAX_VARIANTS = 8
#: Trimmed bars must leave at least this share of the picture, or nothing is trimmed.
_MIN_KEPT = 0.4


def _image_hash(image: Image.Image) -> str:
    return str(imagehash.phash(image.convert("RGB")))


def _frame_hash(frame: av.VideoFrame) -> str:
    return _image_hash(frame.to_image())  # type: ignore[no-untyped-call]


def _open_photo(path: Path) -> Image.Image | None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(path) as image:
            if image.width * image.height > _MAX_PIXELS:
                return None
            image.thumbnail((512, 512))
            return image.convert("RGB")


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
    """Perceptual hashes (hex) of a photo or video; empty when it cannot be decoded."""
    try:
        if media_type in IMAGE_TYPES:
            image = _open_photo(path)
            return [] if image is None else [_image_hash(image)]
        if media_type in VIDEO_TYPES:
            return _video(path)
    except DECODE_ERRORS:
        return []
    return []


def _edge_run(lines: np.ndarray) -> int:
    """How many leading lines (rows or columns) are flat: nearly all one colour.

    Text and icons on a bar cover a small share of its line; a photograph's line is not one
    colour even where it looks plain (sensor noise, shading).
    """
    # In growing chunks: most pictures have no bar, so the first line already decides, and a
    # median over every line of the picture would cost more than the hash itself.
    start, chunk = 0, 8
    while start < len(lines):
        block = lines[start : start + chunk]
        medians = np.median(block, axis=1, keepdims=True)
        close = (np.abs(block - medians).max(axis=2) <= _BAR_TOLERANCE).mean(axis=1)
        rough = np.nonzero(close < _FLAT_SHARE)[0]
        if rough.size:
            return start + int(rough[0])
        start, chunk = start + chunk, chunk * 2
    return len(lines)


def _cuts(lines: np.ndarray) -> list[int]:
    """Where the bars on this edge may end: each colour step inside the flat run (status bar
    to chat header to picture), and the run's end. A picture whose own edge is plain extends
    the flat run past the bars, so the step where the bar's colour ends is a candidate too."""
    run = _edge_run(lines)
    if run == 0:
        return [0]
    medians = np.median(lines[: run + 1], axis=1)
    steps = np.nonzero(np.abs(np.diff(medians, axis=0)).max(axis=1) > _BAR_TOLERANCE)[0] + 1
    return sorted({0, run, *(int(step) for step in steps)})[-_CUTS_PER_EDGE:]


def trimmed_variants(image: Image.Image) -> list[Image.Image]:
    """The picture with flat bars trimmed off its edges, for each plausible cut; empty when
    it has no bars. Bars are told by how flat their lines are, so text and icons on them do
    not count."""
    pixels = np.asarray(image.convert("RGB"), dtype=np.int16)
    columns = pixels.transpose(1, 0, 2)
    height, width = pixels.shape[:2]
    variants: list[Image.Image] = []
    for top, bottom, left, right in itertools.product(
        _cuts(pixels), _cuts(pixels[::-1]), _cuts(columns), _cuts(columns[::-1])
    ):
        if top + bottom + left + right < 2:
            continue
        if height - top - bottom < height * _MIN_KEPT or width - left - right < width * _MIN_KEPT:
            continue
        variants.append(image.crop((left, top, width - right, height - bottom)))
    return variants[:_MAX_VARIANTS]


def image_query_hashes(image: Image.Image) -> list[str]:
    """The lookup hashes of a decoded picture (see :func:`query_fingerprints`)."""
    image = image.convert("RGB")
    if image.width > 512 or image.height > 512:
        image.thumbnail((512, 512))
    hashes = [_image_hash(image), *(_image_hash(v) for v in trimmed_variants(image))]
    return list(dict.fromkeys(hashes))


def query_fingerprints(path: Path, media_type: str | None) -> list[str]:
    """Hashes to look a submitted file up by: :func:`fingerprint`, plus (photos) the picture
    with flat app bars trimmed when it has any. Empty when it cannot be decoded."""
    if media_type not in IMAGE_TYPES:
        return fingerprint(path, media_type)
    try:
        image = _open_photo(path)
        return [] if image is None else image_query_hashes(image)
    except DECODE_ERRORS:
        return []


def to_int(value: str) -> int:
    """A hex hash as an unsigned 64-bit integer.

    Raises:
        ValueError: not 16 hex digits.
    """
    if len(value) != 16:
        raise ValueError(f"expected 16 hex digits, found {len(value)}")
    return int(value, 16)


def hamming(a: int, b: int) -> int:
    """Bits that differ between two 64-bit hashes."""
    return (a ^ b).bit_count()
