"""Media types from content: the one sniffer every upload, intake and reader path uses.

The type of a file is read from its first bytes, never from its name or a header. What is
recognised: JPEG, PNG, GIF, WebP, TIFF/DNG, JPEG XL, AVI, WebM (Matroska EBML) and ISO BMFF
by its ``ftyp`` brand (MP4, MOV, HEIC/HEIF, AVIF), plus legacy QuickTime files that open with a
``moov``/``mdat``/``wide``/``free``/``skip``/``pnot`` atom and no ``ftyp``.

Which of these each path accepts is its own rule: capture seals JPEG, PNG, MP4 and MOV and
transcodes WebM first; the c2pa reader hands :data:`SUPPORTED_MEDIA_TYPES` to c2pa and refuses
the rest (WebM included).

This replaces the upload sniffer that ``infra/media.py`` had beside the reader's own
(issue 15). Deliberate changes on the upload and dispute paths, all from the reader's rules:
an unknown ``ftyp`` major brand is still MP4, but ``avif``/``avis`` (and ``mif1``/``msf1``
with an AVIF compatible brand) read ``image/avif`` instead of ``video/mp4``, and a generic
``mif1``/``msf1``/``mif2`` HEIF without a HEIC brand reads ``image/heif`` instead of
``image/heic``; an ``ftyp`` box cut before its brand is unknown instead of MP4; TIFF, JPEG XL
and AVI are named instead of unknown; a legacy QuickTime file (first atom ``moov``, ``mdat``,
``wide``, ``free``, ``skip`` or ``pnot``) reads ``video/quicktime`` instead of unknown. Capture
still seals only JPEG, PNG, MP4 and MOV, so an AVIF is now refused as ``unsupported_media``
rather than sealed as MP4, and a legacy MOV reaches the sealer (c2pa refusals are
``corrupt_media``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

__all__ = [
    "IMAGE_TYPES",
    "SNIFF_BYTES",
    "SUPPORTED_MEDIA_TYPES",
    "VIDEO_TYPES",
    "media_type_from_head",
    "sniff_media_type",
]

IMAGE_TYPES: Final = frozenset({"image/jpeg", "image/png", "image/webp", "image/heic", "image/gif"})
VIDEO_TYPES: Final = frozenset({"video/mp4", "video/quicktime", "video/webm"})

# Media types we hand to c2pa. Each one is also in c2pa.Reader.get_supported_mime_types()
# (a unit test pins that). Evidence is photos and video, so audio and documents are refused.
SUPPORTED_MEDIA_TYPES: Final[frozenset[str]] = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "image/tiff",
        "image/heic",
        "image/heif",
        "image/avif",
        "image/jxl",
        "video/mp4",
        "video/quicktime",
        "video/x-msvideo",
    }
)

SNIFF_BYTES: Final = 64

# ISO BMFF ``ftyp`` brands (ISO/IEC 14496-12 §4.3; HEIF 23008-12 Annex B; AVIF §9).
_HEIF_BRANDS: Final = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"})
_HEIF_GENERIC_BRANDS: Final = frozenset({b"mif1", b"msf1", b"mif2"})
_AVIF_BRANDS: Final = frozenset({b"avif", b"avis"})
_QUICKTIME_ATOMS: Final = frozenset({b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"})


def sniff_media_type(path: Path) -> str | None:
    """Detect the media type of a file from its first bytes; never trust names or headers.

    Raises:
        OSError: ``path`` cannot be read.

    Returns:
        The media type (see :func:`media_type_from_head`), or None when unrecognised.
    """
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    return media_type_from_head(head)


def media_type_from_head(head: bytes) -> str | None:
    """Detect the container from the first bytes of a file.

    Args:
        head: At least the first 32 bytes (fewer for a shorter file); :data:`SNIFF_BYTES`
            is enough to see the ``ftyp`` compatible brands.

    Returns:
        The media type, or None when the bytes are no container we know.
    """
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video/x-msvideo"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "image/tiff"
    if head.startswith((b"\xff\x0a", b"\x00\x00\x00\x0cJXL \r\n\x87\n")):
        return "image/jxl"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    return _bmff_media_type(head)


def _bmff_media_type(head: bytes) -> str | None:
    box_type = head[4:8]
    if box_type in _QUICKTIME_ATOMS:
        return "video/quicktime"
    if box_type != b"ftyp" or len(head) < 12:
        return None
    major = head[8:12]
    box_size = int.from_bytes(head[0:4], "big")
    compatible = {head[i : i + 4] for i in range(16, min(box_size, len(head)) - 3, 4)}
    if major == b"qt  ":
        return "video/quicktime"
    if major in _AVIF_BRANDS:
        return "image/avif"
    if major in _HEIF_BRANDS:
        return "image/heic"
    if major in _HEIF_GENERIC_BRANDS:
        if compatible & _AVIF_BRANDS:
            return "image/avif"
        return "image/heic" if compatible & _HEIF_BRANDS else "image/heif"
    return "video/mp4"
