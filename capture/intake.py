"""Intake screening of receipt uploads: does the file's own metadata contradict a live capture?

The buyer's app sends the camera's bytes as captured during the receipt session. A file that
already carries a C2PA manifest, names an image editor or generator in its metadata, carries
a generator's prompt text, or says it was taken outside the session was not captured live:
it is stored as flagged with these findings and never sealed as receipt evidence.

Only metadata is read: PNG text chunks are walked chunk by chunk (bounded), JPEG EXIF and XMP
come from Pillow's header parse (no pixel decoding), C2PA through ``evidence.reader``.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

from evidence.reader import (
    CorruptMediaError,
    NoManifestError,
    ReaderReport,
    TrustSettings,
    UnsupportedMediaError,
    read_evidence,
)

__all__ = [
    "CLOCK_SKEW",
    "IntakeFinding",
    "metadata_findings",
    "screen_upload",
]

#: Device clocks drift; EXIF times this close to the session still count as inside it.
CLOCK_SKEW = timedelta(minutes=5)
#: EXIF DateTimeOriginal without OffsetTimeOriginal is local time in an unknown zone
#: (UTC-12 to UTC+14): only times outside the widest zone span are contradictions.
_UNKNOWN_ZONE_SLACK = timedelta(hours=14)

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_TEXT_CHUNKS = frozenset({b"tEXt", b"zTXt", b"iTXt"})
_MAX_TEXT_BYTES = 1024 * 1024
_MAX_PNG_CHUNKS = 100_000
#: A JUMBF description box whose type starts with ``c2pa`` (ISO 19566-5; C2PA 2.1 §11.1.4).
_C2PA_STORE_MARK = b"jumdc2pa"
_SCAN_BYTES = 1024 * 1024

#: PNG text keywords that generators write (AUTOMATIC1111/Forge, ComfyUI, InvokeAI, NovelAI).
_GENERATOR_KEYWORDS = frozenset(
    {
        "parameters",
        "prompt",
        "workflow",
        "negative_prompt",
        "sd-metadata",
        "dream",
        "invokeai_metadata",
        "generation_data",
    }
)
_GENERATORS = re.compile(
    r"\b(stable[ -]?diffusion|sdxl|midjourney|dall[-·.]?e|firefly|comfyui|automatic1111|"
    r"invokeai|novelai|leonardo\.ai|ideogram|flux\.1|imagen|runwayml|nightcafe|dreamstudio|"
    r"trainedalgorithmicmedia|compositewithtrainedalgorithmicmedia)\b",
    re.IGNORECASE,
)
_EDITORS = re.compile(
    r"\b(photoshop|lightroom|gimp|affinity photo|pixelmator|paint\.net|snapseed|canva|"
    r"picsart|facetune|photopea|luminar|darktable|krita|photoscape|fotor|remini|lensa)\b",
    re.IGNORECASE,
)
_EXIF_SOFTWARE = 0x0131
_EXIF_PROCESSING_SOFTWARE = 0x000B
_EXIF_IFD = 0x8769
_EXIF_DATETIME_ORIGINAL = 0x9003
_EXIF_OFFSET_TIME_ORIGINAL = 0x9011


@dataclass(frozen=True)
class IntakeFinding:
    """One reason an upload is not accepted as a live capture.

    ``code`` is stable: ``already_sealed``, ``foreign_manifest``, ``generator_trace``,
    ``editor_trace`` or ``capture_time_outside_session``.
    """

    code: str
    detail: str

    def to_json(self) -> dict[str, str]:
        """Serialise for the ledger and the error response."""
        return {"code": self.code, "detail": self.detail}


def screen_upload(
    path: Path,
    *,
    media_type: str,
    session_opened_at: datetime,
    now: datetime,
    trust: TrustSettings,
    sealing_fingerprints: frozenset[str] = frozenset(),
) -> tuple[IntakeFinding, ...]:
    """Screen one receipt upload before it is sealed.

    Args:
        path: the received bytes (sniffed already as ``media_type``).
        media_type: the sniffed media type.
        session_opened_at: when the receipt session opened.
        now: the service clock at intake.
        trust: our trust anchors.
        sealing_fingerprints: SHA-256 of our sealing certificates' DER: a ``Trusted`` manifest
            signed by one of them is our own seal; any other signer is a foreign manifest.

    Returns:
        Every finding, in a stable order; empty when nothing contradicts a live capture.
    """
    findings = list(_c2pa_findings(path, media_type, trust, sealing_fingerprints))
    findings.extend(metadata_findings(path, media_type=media_type, window=(session_opened_at, now)))
    return tuple(findings)


def _c2pa_findings(
    path: Path, media_type: str, trust: TrustSettings, sealing_fingerprints: frozenset[str]
) -> Iterator[IntakeFinding]:
    try:
        report: ReaderReport = read_evidence(path, trust=trust, media_type=media_type)
    except NoManifestError as exc:
        # No manifest is the normal case. A reference to a remote manifest is not.
        if exc.remote_url is not None:
            yield IntakeFinding(
                "foreign_manifest",
                "the file references a remote C2PA manifest: it was not captured live in this "
                "session",
            )
        return
    except UnsupportedMediaError:
        return
    except CorruptMediaError:
        # The container already passed the structure walk, so what c2pa cannot read is C2PA
        # data itself. A live capture from our app carries none: a damaged manifest is not a
        # way around this screen.
        if _carries_c2pa_store(path):
            yield IntakeFinding(
                "foreign_manifest",
                "the file carries damaged C2PA data: it was not captured live in this session",
            )
        return
    manifest = report.active_manifest
    if report.state == "Trusted" and manifest.signer_fingerprint in sealing_fingerprints:
        yield IntakeFinding(
            "already_sealed",
            f"the file already carries an OrderSeal seal ({manifest.label}): not a new capture",
        )
        return
    signer = manifest.signer_common_name or manifest.signer_issuer or "an unknown signer"
    tool = manifest.claim_generator or "an unknown tool"
    yield IntakeFinding(
        "foreign_manifest",
        f"the file carries a C2PA manifest signed by {signer} ({tool}): it was not captured "
        "live in this session",
    )


def _carries_c2pa_store(path: Path) -> bool:
    """Whether the bytes hold a JUMBF description box of type ``c2pa`` (streamed, bounded)."""
    overlap = len(_C2PA_STORE_MARK) - 1
    tail = b""
    with path.open("rb") as handle:
        while chunk := handle.read(_SCAN_BYTES):
            if _C2PA_STORE_MARK in tail + chunk:
                return True
            tail = chunk[-overlap:]
    return False


def metadata_findings(
    path: Path, *, media_type: str, window: tuple[datetime, datetime]
) -> tuple[IntakeFinding, ...]:
    """Findings from PNG text chunks, XMP and EXIF (images only; video yields none).

    Args:
        path: the file.
        media_type: sniffed type; only ``image/png`` and ``image/jpeg`` are examined.
        window: (session opened, now) in aware UTC.
    """
    if media_type not in ("image/png", "image/jpeg"):
        return ()
    findings: list[IntakeFinding] = []
    texts: dict[str, str] = {}
    if media_type == "image/png":
        with path.open("rb") as handle:
            texts = dict(_png_text_chunks(handle))
        for keyword in sorted(texts):
            if keyword.lower() in _GENERATOR_KEYWORDS:
                findings.append(
                    IntakeFinding(
                        "generator_trace",
                        f"PNG text chunk {keyword!r} holds image-generator settings",
                    )
                )
    software, xmp, taken = _exif_and_xmp(path)
    if media_type == "image/png":
        xmp = xmp or texts.pop("XML:com.adobe.xmp", "")
    sources = [(f"PNG text {k!r}", v) for k, v in sorted(texts.items())]
    sources += [("EXIF Software", s) for s in software] + ([("XMP", xmp)] if xmp else [])
    for where, text in sources:
        findings.extend(_name_findings(where, text))
    if taken is not None and not _inside(taken, window):
        findings.append(
            IntakeFinding(
                "capture_time_outside_session",
                f"EXIF DateTimeOriginal {taken[0].isoformat()} lies outside the receipt session "
                f"({window[0].isoformat()} to {window[1].isoformat()})",
            )
        )
    return tuple(_unique(findings))


def _name_findings(where: str, text: str) -> Iterator[IntakeFinding]:
    generator = _GENERATORS.search(text)
    if generator:
        yield IntakeFinding("generator_trace", f"{where} names {generator.group(0)}")
    editor = _EDITORS.search(text)
    if editor:
        yield IntakeFinding("editor_trace", f"{where} names the editor {editor.group(0)}")


def _inside(taken: tuple[datetime, bool], window: tuple[datetime, datetime]) -> bool:
    moment, zone_known = taken
    slack = CLOCK_SKEW if zone_known else CLOCK_SKEW + _UNKNOWN_ZONE_SLACK
    return window[0] - slack <= moment <= window[1] + slack


def _unique(findings: list[IntakeFinding]) -> Iterator[IntakeFinding]:
    seen: set[IntakeFinding] = set()
    for finding in findings:
        if finding not in seen:
            seen.add(finding)
            yield finding


def _png_text_chunks(handle: BinaryIO) -> Iterator[tuple[str, str]]:
    """(keyword, text) of every tEXt/zTXt/iTXt chunk; other chunks are skipped by seeking."""
    if handle.read(8) != _PNG_SIGNATURE:
        return
    for _ in range(_MAX_PNG_CHUNKS):
        header = handle.read(8)
        if len(header) < 8:
            return
        length, kind = struct.unpack(">I4s", header)
        if kind in _PNG_TEXT_CHUNKS and length <= _MAX_TEXT_BYTES:
            data = handle.read(length)
            handle.seek(4, 1)  # CRC
            parsed = _parse_text_chunk(kind, data)
            if parsed is not None:
                yield parsed
        else:
            handle.seek(length + 4, 1)
        if kind == b"IEND":
            return


def _parse_text_chunk(kind: bytes, data: bytes) -> tuple[str, str] | None:
    keyword, sep, rest = data.partition(b"\0")
    if not sep:
        return None
    name = keyword.decode("latin-1")
    try:
        if kind == b"tEXt":
            return name, rest.decode("latin-1")
        if kind == b"zTXt":
            return name, _inflate(rest[1:]).decode("latin-1")
        compressed = rest[:1] == b"\1"
        _lang, _, rest = rest[2:].partition(b"\0")
        _translated, _, text = rest.partition(b"\0")
        return name, (_inflate(text) if compressed else text).decode("utf-8", "replace")
    except zlib.error:
        return name, ""


def _inflate(data: bytes) -> bytes:
    # Bounded: a zip bomb in a text chunk must not exhaust memory.
    return zlib.decompressobj().decompress(data, _MAX_TEXT_BYTES)


def _exif_and_xmp(path: Path) -> tuple[list[str], str, tuple[datetime, bool] | None]:
    """EXIF Software values, the XMP packet and DateTimeOriginal (with "zone known")."""
    try:
        with Image.open(path) as image:
            exif = image.getexif()
            raw_xmp = image.info.get("xmp", b"")
            software = [
                str(exif[tag])
                for tag in (_EXIF_SOFTWARE, _EXIF_PROCESSING_SOFTWARE)
                if exif.get(tag)
            ]
            details = exif.get_ifd(_EXIF_IFD)
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError, SyntaxError, ValueError):
        return [], "", None
    xmp = raw_xmp.decode("utf-8", "replace") if isinstance(raw_xmp, bytes) else str(raw_xmp or "")
    return software, xmp, _taken_at(details)


def _taken_at(details: dict[int, object]) -> tuple[datetime, bool] | None:
    raw = details.get(_EXIF_DATETIME_ORIGINAL)
    if not isinstance(raw, str):
        return None
    offset = details.get(_EXIF_OFFSET_TIME_ORIGINAL)
    text = raw.strip().rstrip("\0")
    if isinstance(offset, str) and re.fullmatch(r"[+-]\d\d:\d\d", offset.strip()):
        try:
            return datetime.strptime(text + offset.strip(), "%Y:%m:%d %H:%M:%S%z"), True
        except ValueError:
            return None
    try:
        naive = datetime.strptime(text, "%Y:%m:%d %H:%M:%S")  # noqa: DTZ007 - zone unknown
    except ValueError:
        return None
    return naive.replace(tzinfo=UTC), False
