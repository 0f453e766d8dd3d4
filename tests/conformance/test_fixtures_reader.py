"""Conformance: read every third-party fixture in MANIFEST.tsv with OrderSeal's reader.

Each row's column "c2pa-python 0.38.1 offline + c2pa-rs test anchors" records what c2pa
reported offline with the c2pa-rs test trust folder (anchors and store.cfg EKUs). The
reader must give the same validation state, the same active-manifest failure codes, the
same number of manifests, and at least the recorded informational and ingredient-delta
codes; a recorded c2pa error must become the matching ``ReaderError`` subclass.
"""

from __future__ import annotations

import ast
import csv
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from evidence.reader import (
    CorruptMediaError,
    NoManifestError,
    ReaderError,
    TrustSettings,
    UnsupportedMediaError,
    read_evidence,
)
from tests.support.paths import fixtures_dir, require_fixtures_dir

_COLUMN = "c2pa-python 0.38.1 offline + c2pa-rs test anchors"
_FIELD_RE = re.compile(r"(\w+)=(\[[^\]]*\]|\d+)")


@dataclass(frozen=True)
class Expected:
    """One row's recorded outcome: a report (state and codes) or an error class."""

    state: str | None
    failure: tuple[str, ...]
    informational: tuple[str, ...]
    ingredient_delta_failure: tuple[str, ...]
    manifests: int | None
    error: type[ReaderError] | None


def _error_class(text: str) -> type[ReaderError]:
    if "ManifestNotFound" in text or "must fetch remote manifests" in text:
        return NoManifestError
    if "NotSupported" in text:
        return UnsupportedMediaError
    return CorruptMediaError


def _parse(cell: str) -> Expected:
    if cell.startswith("ERROR "):
        return Expected(None, (), (), (), None, _error_class(cell))
    state = cell.split(";", 1)[0].strip()
    fields = {name: value for name, value in _FIELD_RE.findall(cell)}

    def codes(name: str) -> tuple[str, ...]:
        return tuple(ast.literal_eval(fields.get(name, "[]")))

    return Expected(
        state=state,
        failure=codes("failure"),
        informational=codes("informational"),
        ingredient_delta_failure=codes("ingredient_delta_failure"),
        manifests=int(fields["manifests"]) if "manifests" in fields else None,
        error=None,
    )


def _cases() -> list[object]:
    manifest = fixtures_dir() / "MANIFEST.tsv"
    if not manifest.is_file():
        # One case that fails under CI=true and skips elsewhere (see require_fixtures_dir).
        return [pytest.param("", None, id="fixtures-missing")]
    with manifest.open(newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream, delimiter="\t", quoting=csv.QUOTE_NONE))
    # The header continues with the settings used, e.g. "(c2pa-rs/trust/*, ...)".
    (column,) = [name for name in rows[0] if name.startswith(_COLUMN)]
    return [pytest.param(row["file"], _parse(row[column]), id=row["file"]) for row in rows]


@pytest.fixture(scope="module")
def trust() -> TrustSettings:
    trust_dir = require_fixtures_dir() / "c2pa-rs" / "trust"
    anchors = (trust_dir / "test_cert_root_bundle.pem").read_text()
    # store.cfg: one OID per line, "//" comment lines.
    ekus = tuple(
        line.strip()
        for line in (trust_dir / "store.cfg").read_text().splitlines()
        if line.strip() and not line.strip().startswith("//")
    )
    return TrustSettings(anchors, ekus)


@pytest.mark.parametrize(("name", "expected"), _cases())
def test_fixture_reads_as_recorded(
    name: str, expected: Expected | None, trust: TrustSettings
) -> None:
    folder: Path = require_fixtures_dir()
    assert expected is not None
    if expected.error is not None:
        with pytest.raises(expected.error) as caught:
            read_evidence(folder / name, trust=trust)
        assert type(caught.value) is expected.error
        return
    report = read_evidence(folder / name, trust=trust)
    assert report.state == expected.state
    assert sorted(report.failure_codes) == sorted(expected.failure)
    assert set(expected.informational) <= set(report.informational_codes)
    # Ours also holds failures recorded inside ingredients, so the deltas are a subset.
    assert set(expected.ingredient_delta_failure) <= set(report.ingredient_failure_codes)
    if expected.manifests is not None:
        assert len(report.manifests) == expected.manifests
