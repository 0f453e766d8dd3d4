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

Flooding (many sealings of near-identical pictures into one band value) is bounded: a lookup
reads at most ``max_candidates`` rows and says when it stopped there (``truncated``), so the
verifier can refuse to allow on an incomplete answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations

from sqlalchemy import insert, select

from infra.ledger.fingerprint_models import BAND_BITS, BANDS, Fingerprint
from infra.ledger.sessions import GuardedSessions

__all__ = ["FingerprintIndex", "FingerprintLookup", "FingerprintMatch", "fingerprint_rows"]

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
        columns = (Fingerprint.band0, Fingerprint.band1, Fingerprint.band2, Fingerprint.band3)
        wanted: list[set[int]] = [set() for _ in range(BANDS)]
        for value in hashes:
            for i, band in enumerate(_bands(value)):
                wanted[i].update(_neighbours(band, bits))
        # Each probe reads only its covering (band, value) index (and the row id it holds);
        # rows are fetched for the few candidates within the radius.
        probes = [
            select(Fingerprint.id, Fingerprint.value)
            .where(column.in_(sorted(values)))
            .limit(max_candidates + 1)
            for column, values in zip(columns, wanted, strict=True)
        ]
        close: dict[int, list[tuple[int, int]]] = {}
        seen: set[int] = set()
        with self._sessions() as session:
            for probe in probes:
                for row_id, stored in session.execute(probe):
                    if row_id in seen:
                        continue
                    seen.add(row_id)
                    value = _unsigned(stored)
                    for query, candidate in enumerate(hashes):
                        distance = (value ^ candidate).bit_count()
                        if distance <= radius:
                            close.setdefault(row_id, []).append((query, distance))
            found = (
                session.execute(
                    select(
                        Fingerprint.id,
                        Fingerprint.evidence_id,
                        Fingerprint.order_id,
                        Fingerprint.position,
                    ).where(Fingerprint.id.in_(sorted(close)))
                ).all()
                if close
                else []
            )
        matches = [
            FingerprintMatch(evidence_id, order_id, position, query, distance)
            for row_id, evidence_id, order_id, position in found
            for query, distance in close[row_id]
        ]
        matches.sort(key=lambda m: (m.distance, m.evidence_id, m.position, m.query))
        return FingerprintLookup(tuple(matches), truncated=len(seen) > max_candidates)

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
