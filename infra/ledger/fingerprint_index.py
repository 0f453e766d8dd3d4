"""The fingerprint index: sealed evidence whose perceptual hash is within a Hamming radius.

Multi-index hashing (Norouzi, Punjani and Fleet, "Fast Search in Hamming Space with
Multi-Index Hashing", CVPR 2012). A 64-bit hash is split into ``BANDS`` = 4 bands of 16 bits,
each an indexed integer column. If two hashes differ in at most ``r`` bits, by the pigeonhole
principle at least one band differs in at most ``r // 4`` bits. So a lookup asks, for each band,
for the rows whose band equals one of the values within ``r // 4`` bits of the query's band (for
``r < 4`` that is the band itself: one band must match exactly), then keeps the candidates whose
whole hash is within ``r`` (exact Hamming distance, in Python). No query scans the table.

Why 4 x 16 and not 8 x 8 bits: at the calibrated radius (7, ``verifier.perceptual``) 8 bands
need no neighbours (7 < 8) but each 8-bit value holds 1/256 of the table, so a lookup reads
8/256 = 3 % of all rows (31,000 at 10^6). 4 bands need the 17 values within one bit of each
band, and each 16-bit value holds 1/65,536 of the table: 4 x 17 / 65,536 = 0.1 % (about 1,000
rows at 10^6, for uniformly spread hashes).

Flooding (many sealings of near-identical pictures into one band value) is bounded: each band
probe reads at most ``max_candidates`` stored hashes, and the rows behind the hashes within the
radius (one picture sealed many times is many rows of one hash) are read up to the same bound.
The answer says when either stopped (``truncated``), so the verifier can refuse to allow on an
incomplete answer.

On PostgreSQL the probes are index-only scans of the (band, value) indexes, which needs the
planner's statistics and the visibility map that autovacuum keeps (docs/benchmarks.md).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations

from sqlalchemy import (
    BindParameter,
    CompoundSelect,
    Integer,
    and_,
    bindparam,
    insert,
    literal,
    or_,
    select,
    union_all,
)

from infra.ledger.fingerprint_models import BAND_BITS, BANDS, Fingerprint
from infra.ledger.models import Evidence
from infra.ledger.sessions import GuardedSessions

__all__ = [
    "FingerprintIndex",
    "FingerprintLookup",
    "FingerprintMatch",
    "UnindexedEvidence",
    "fingerprint_rows",
]

_MASK = (1 << BAND_BITS) - 1
_SIGN = 1 << 63
#: Band neighbourhoods are enumerated up to this many bits (r up to 4 * 3 + 3 = 15).
_MAX_BAND_DISTANCE = 3


@dataclass(frozen=True)
class FingerprintMatch:
    """One indexed hash within the radius of one query hash."""

    evidence_id: str
    order_id: str
    position: int
    query: int  # index of the query hash that matched
    distance: int


@dataclass(frozen=True)
class UnindexedEvidence:
    """A sealed file the index has no hash of, and where its sealed bytes are stored."""

    evidence_id: str
    order_id: str
    media_type: str
    storage_key: str


@dataclass(frozen=True)
class FingerprintLookup:
    """Matches, nearest first; ``truncated`` when the candidate bound cut the answer short."""

    matches: tuple[FingerprintMatch, ...]
    truncated: bool


def _bands(value: int) -> list[int]:
    return [(value >> (BAND_BITS * (BANDS - 1 - i))) & _MASK for i in range(BANDS)]


def _signed(value: int) -> int:
    return value - (1 << 64) if value & _SIGN else value


def _unsigned(value: int) -> int:
    return value + (1 << 64) if value < 0 else value


def _neighbours(band: int, bits: int) -> list[int]:
    """Every 16-bit value within ``bits`` of ``band`` (1 + 16 + 120 + 560 at most)."""
    values = [band]
    for flips in range(1, bits + 1):
        for positions in combinations(range(BAND_BITS), flips):
            flipped = band
            for position in positions:
                flipped ^= 1 << position
            values.append(flipped)
    return values


def fingerprint_rows(evidence_id: str, order_id: str, hashes: Iterable[int]) -> list[Fingerprint]:
    """Index rows for one sealed file's hashes (unsigned 64-bit integers), in file order."""
    rows = []
    for position, value in enumerate(hashes):
        bands = _bands(value)
        rows.append(
            Fingerprint(
                evidence_id=evidence_id,
                order_id=order_id,
                position=position,
                value=_signed(value),
                band0=bands[0],
                band1=bands[1],
                band2=bands[2],
                band3=bands[3],
            )
        )
    return rows


@functools.cache
def _probes() -> CompoundSelect[int, int]:
    """One statement, one bounded probe per band, built once (building it for each lookup
    cost more than running it).

    A probe reads only the stored hash, which its (band, value) index holds, so PostgreSQL
    answers it by an index-only scan and never visits the table's pages (reading the row id
    too cost a heap page per candidate: p99 478 ms at 10^6, docs/benchmarks.md). The band
    values and the bound are rendered into the statement: 68 bound parameters cost more to
    process than the query costs to run, and they are integers we computed.
    """
    columns = (Fingerprint.band0, Fingerprint.band1, Fingerprint.band2, Fingerprint.band3)
    probes = []
    for i, column in enumerate(columns):
        values: BindParameter[int] = bindparam(
            f"band{i}", expanding=True, literal_execute=True, type_=Integer()
        )
        bounded = (
            select(Fingerprint.value)
            .where(column.in_(values))
            .limit(bindparam("bound", type_=Integer(), literal_execute=True))
            .subquery(f"probe{i}")
        )
        probes.append(select(literal(i).label("probe"), bounded.c.value))
    return union_all(*probes)


class FingerprintIndex:
    """Reads of the ``fingerprints`` table (rows are written with their evidence)."""

    def __init__(self, sessions: GuardedSessions) -> None:
        self._sessions = sessions

    def lookup(
        self, hashes: Sequence[int], *, radius: int, max_candidates: int = 5_000
    ) -> FingerprintLookup:
        """Indexed hashes within ``radius`` bits of any of ``hashes``.

        Raises:
            ValueError: a radius the band neighbourhoods do not cover (over 15).
        """
        bits = radius // BANDS
        if radius < 0 or bits > _MAX_BAND_DISTANCE:
            raise ValueError(f"expected a radius from 0 to 15, found {radius}")
        if not hashes:
            return FingerprintLookup((), truncated=False)
        wanted: list[set[int]] = [set() for _ in range(BANDS)]
        for value in hashes:
            for i, band in enumerate(_bands(value)):
                wanted[i].update(_neighbours(band, bits))
        # Probe the bands for stored hashes (``_probes``); rows are fetched afterwards for
        # the few hashes within the radius.
        close: dict[int, list[tuple[int, int]]] = {}
        per_probe = [0] * BANDS
        with self._sessions() as session:
            candidates: set[int] = set()
            # fetchall: a thousand candidates row by row cost more than the query itself.
            parameters: dict[str, object] = {
                f"band{i}": sorted(values) for i, values in enumerate(wanted)
            }
            parameters["bound"] = max_candidates + 1
            for probe, stored in session.execute(_probes(), parameters).all():
                per_probe[probe] += 1
                candidates.add(stored)
            for stored in candidates:
                value = _unsigned(stored)
                hits = [
                    (query, distance)
                    for query, candidate in enumerate(hashes)
                    if (distance := (value ^ candidate).bit_count()) <= radius
                ]
                if hits:
                    close[value] = hits
            # By (band0, value), which the first band's index serves; bounded too, since one
            # hash sealed many times (a flood of one picture) is many rows.
            found = (
                session.execute(
                    select(
                        Fingerprint.value,
                        Fingerprint.evidence_id,
                        Fingerprint.order_id,
                        Fingerprint.position,
                    )
                    .where(
                        or_(
                            *(
                                and_(
                                    Fingerprint.band0 == _bands(value)[0],
                                    Fingerprint.value == _signed(value),
                                )
                                for value in sorted(close)
                            )
                        )
                    )
                    .limit(max_candidates + 1)
                ).all()
                if close
                else []
            )
        matches = [
            FingerprintMatch(evidence_id, order_id, position, query, distance)
            for stored, evidence_id, order_id, position in found[:max_candidates]
            for query, distance in close[_unsigned(stored)]
        ]
        matches.sort(key=lambda m: (m.distance, m.evidence_id, m.position, m.query))
        truncated = max(per_probe) > max_candidates or len(found) > max_candidates
        return FingerprintLookup(tuple(matches), truncated=truncated)

    def unindexed(self, *, after: str, limit: int) -> list[UnindexedEvidence]:
        """Sealed evidence without index rows (sealed before migration 0013, or a file whose
        pictures could not be decoded), in evidence id order after ``after``: a backfill's
        next batch. The keyset lets one run pass over files that give no hash."""
        indexed = select(Fingerprint.id).where(Fingerprint.evidence_id == Evidence.evidence_id)
        with self._sessions() as session:
            rows = session.execute(
                select(
                    Evidence.evidence_id,
                    Evidence.order_id,
                    Evidence.media_type,
                    Evidence.storage_key,
                )
                .where(Evidence.evidence_id > after, ~indexed.exists())
                .order_by(Evidence.evidence_id)
                .limit(limit)
            ).all()
        return [UnindexedEvidence(*row) for row in rows]

    def add_if_unindexed(self, evidence_id: str, order_id: str, hashes: Sequence[int]) -> bool:
        """Index one sealed file's hashes unless it has rows already (a concurrent backfill,
        or the seal itself): True when these rows were written."""
        with self._sessions.begin() as session:
            # The evidence row's lock orders two backfills of one file on PostgreSQL (SQLite
            # has one writer at a time).
            session.execute(
                select(Evidence.evidence_id)
                .where(Evidence.evidence_id == evidence_id)
                .with_for_update()
            )
            present = session.scalars(
                select(Fingerprint.id).where(Fingerprint.evidence_id == evidence_id).limit(1)
            ).first()
            if present is not None or not hashes:
                return False
            session.add_all(fingerprint_rows(evidence_id, order_id, hashes))
            return True

    def hashes_of(self, evidence_id: str) -> list[int]:
        """The indexed hashes of one sealed file, in file order."""
        with self._sessions() as session:
            values = session.scalars(
                select(Fingerprint.value)
                .where(Fingerprint.evidence_id == evidence_id)
                .order_by(Fingerprint.position)
            )
            return [_unsigned(v) for v in values]

    def bulk_load_for_benchmark(self, values: Sequence[int], *, batch: int = 20_000) -> None:
        """Insert synthetic rows fast (bench only: evidence ids ``bench-<n>``, no evidence)."""
        with self._sessions.begin() as session:
            for start in range(0, len(values), batch):
                chunk = []
                for offset, value in enumerate(values[start : start + batch]):
                    bands = _bands(value)
                    chunk.append(
                        {
                            "evidence_id": f"bench-{start + offset}",
                            "order_id": "bench",
                            "position": 0,
                            "value": _signed(value),
                            "band0": bands[0],
                            "band1": bands[1],
                            "band2": bands[2],
                            "band3": bands[3],
                        }
                    )
                session.execute(insert(Fingerprint), chunk)
