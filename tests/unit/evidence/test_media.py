"""The one media sniffer: what each container reads as, and where the reader narrows it."""

from __future__ import annotations

from pathlib import Path

import pytest

from evidence.media import media_type_from_head, sniff_media_type
from evidence.reader import detect_media_type


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01", "video/webm"),
        (b"\x00\x00\x00\x18ftypavif\x00\x00\x00\x00avifmif1", "image/avif"),
        (b"\x00\x00\x00\x10ftypmif1\x00\x00\x00\x00", "image/heif"),
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isommp41", "video/mp4"),
        (b"\x00\x00\x00\x08ftyp", None),
        (b"%PDF-1.7\n", None),
    ],
    ids=["webm", "avif", "heif-generic", "mp4", "ftyp-cut", "pdf"],
)
def test_media_type_from_head(head: bytes, expected: str | None) -> None:
    assert media_type_from_head(head) == expected


def test_reader_refuses_webm_the_sniffer_knows() -> None:
    head = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01"
    assert media_type_from_head(head) == "video/webm"
    assert detect_media_type(head) is None


def test_sniff_media_type_reads_the_file(tmp_path: Path) -> None:
    path = tmp_path / "photo.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    assert sniff_media_type(path) == "image/png"
