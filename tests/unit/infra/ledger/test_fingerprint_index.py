"""infra.ledger.fingerprint_index on a real ledger (SQLite; PostgreSQL in the postgres pass).

Multi-index hashing must find every indexed hash within the radius (the pigeonhole bound over
4 bands of 16 bits) and nothing beyond it. The adversary floods the index: many sealings with
hashes in one band bucket must not make a lookup unbounded, and the answer says it stopped.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from infra.db import create_ledger_engine, create_schema, session_factory
from infra.ledger.fingerprint_index import FingerprintIndex, fingerprint_rows
from infra.ledger.sessions import GuardedSessions

BASE = 0x9C3F_15A2_7E01_D4B8
TWIN = 0x0123_4567_89AB_CDEF


def _flip(value: int, bits: list[int]) -> int:
    for bit in bits:
        value ^= 1 << bit
    return value


@pytest.fixture(scope="module")
def index(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FingerprintIndex]:
    url = database_url or f"sqlite:///{tmp_path_factory.mktemp('fp') / 'ledger.sqlite3'}"
    engine = create_ledger_engine(url)
    create_schema(engine)
    sessions = session_factory(engine)
    # Spread the differing bits over every band, so no band matches exactly beyond r = 3.
    planted = {
        "d0": BASE,
        "d3": _flip(BASE, [0, 17, 33]),
        "d7": _flip(BASE, [1, 2, 18, 34, 35, 50, 63]),
        "d8": _flip(BASE, [3, 4, 19, 20, 36, 37, 51, 52]),
        "d12": _flip(BASE, [5, 6, 7, 21, 22, 23, 38, 39, 40, 53, 54, 55]),
    }
    rng = random.Random(7)  # noqa: S311 - reproducible filler hashes
    with sessions.begin() as session:
        for name, value in planted.items():
            session.add_all(fingerprint_rows(f"ev-{name}", "ORD-1", [value]))
        session.add_all(
            fingerprint_rows("ev-video", "ORD-2", [rng.getrandbits(64) for _ in range(6)])
        )
        for n in range(500):
            session.add_all(fingerprint_rows(f"ev-noise-{n}", "ORD-3", [rng.getrandbits(64)]))
        # A flood: 300 sealings sharing the query's top band, all far from it elsewhere.
        for n in range(300):
            flood = (BASE & ~((1 << 48) - 1)) | (rng.getrandbits(48) ^ (BASE & ((1 << 48) - 1)))
            session.add_all(fingerprint_rows(f"ev-flood-{n}", "ORD-4", [flood | 1]))
        # A flood of one picture: 80 sealings of the very same hash, near ``TWIN``.
        for n in range(80):
            session.add_all(fingerprint_rows(f"ev-twin-{n}", "ORD-5", [TWIN]))
    yield FingerprintIndex(GuardedSessions(sessions))
    engine.dispose()


@pytest.mark.parametrize(
    ("radius", "expected"),
    [
        (0, {"ev-d0"}),
        (3, {"ev-d0", "ev-d3"}),
        (7, {"ev-d0", "ev-d3", "ev-d7"}),
        (8, {"ev-d0", "ev-d3", "ev-d7", "ev-d8"}),
        (12, {"ev-d0", "ev-d3", "ev-d7", "ev-d8", "ev-d12"}),
    ],
    ids=["r0", "r3", "r7", "r8", "r12"],
)
def test_finds_within_the_radius_and_nothing_beyond(
    index: FingerprintIndex, radius: int, expected: set[str]
) -> None:
    found = index.lookup([BASE], radius=radius)
    planted = {m.evidence_id for m in found.matches if m.evidence_id.startswith("ev-d")}
    assert planted == expected
    assert all(m.distance <= radius for m in found.matches)
    assert not found.truncated


def test_nearest_first_with_its_distance(index: FingerprintIndex) -> None:
    found = index.lookup([_flip(BASE, [9])], radius=7)
    assert (found.matches[0].evidence_id, found.matches[0].distance) == ("ev-d0", 1)


def test_a_video_is_found_frame_by_frame(index: FingerprintIndex) -> None:
    frames = index.hashes_of("ev-video")
    assert len(frames) == 6
    found = index.lookup([_flip(f, [40]) for f in frames], radius=7)
    matched = {m.query for m in found.matches if m.evidence_id == "ev-video"}
    assert matched == set(range(6))


def test_a_flooded_band_is_read_up_to_the_bound_and_says_so(index: FingerprintIndex) -> None:
    bounded = index.lookup([BASE], radius=3, max_candidates=50)
    assert bounded.truncated
    assert index.lookup([BASE], radius=3).truncated is False


@pytest.mark.parametrize("radius", [-1, 16], ids=["negative", "beyond-the-bands"])
def test_a_radius_the_bands_cannot_serve_is_refused(index: FingerprintIndex, radius: int) -> None:
    with pytest.raises(ValueError, match="radius"):
        index.lookup([BASE], radius=radius)


def test_no_hash_no_candidates(index: FingerprintIndex) -> None:
    assert index.lookup([], radius=7).matches == ()


def test_a_flood_of_one_hash_is_bounded_too(index: FingerprintIndex) -> None:
    """The probes read one value for the 80 rows; fetching the rows behind it is bounded."""
    bounded = index.lookup([_flip(TWIN, [5])], radius=7, max_candidates=50)
    assert bounded.truncated
    assert len(bounded.matches) <= 50
    whole = index.lookup([_flip(TWIN, [5])], radius=7)
    assert not whole.truncated
    assert len({m.evidence_id for m in whole.matches}) == 80
