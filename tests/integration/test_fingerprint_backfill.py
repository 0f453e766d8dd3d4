"""``orderseal db backfill-fingerprints``: evidence sealed before the fingerprint index.

Evidence sealed before migration 0013 has no index rows, so a stripped copy of it is not
recovered. The backfill reads the sealed files through the evidence store and indexes them:
after it, the same copy is recovered. Bounded (a run stops at its bound and says more may
remain), resumable and idempotent (a second run indexes nothing, and no file gets its rows
twice). Adversary (or accident): an index row pointing at a missing object is counted as
unreadable, and the run goes on.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from capture.fingerprint_backfill import backfill_fingerprints
from infra.settings import Settings
from orderseal.cli import app
from orderseal.services import Services
from tests.support import flows
from tests.support.databases import settings_env

Received = tuple[flows.Actors, flows.Shipped, list[Path], Path]


@pytest.fixture(scope="module")
def received(
    live_api: str, credentials: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Received:
    work = tmp_path_factory.mktemp("backfill")
    cast = flows.actors(live_api, credentials)
    shipped = flows.ship(cast, flows.register_order(cast), work)
    return cast, shipped, flows.receive(cast, shipped, work), work


@pytest.fixture(scope="module")
def ledger(settings: Settings) -> Iterator[Engine]:
    engine = create_engine(settings.resolved_database_url)
    yield engine
    engine.dispose()


def _forget_index(ledger: Engine) -> None:
    """What a ledger migrated from before 0013 looks like: evidence, no fingerprints."""
    with ledger.begin() as connection:
        connection.execute(text("DELETE FROM fingerprints"))


def _rows(ledger: Engine) -> list[tuple[str, int]]:
    with ledger.connect() as connection:
        result = connection.execute(
            text("SELECT evidence_id, position FROM fingerprints ORDER BY evidence_id, position")
        )
        return [(row[0], row[1]) for row in result]


def _copy(received: Received, name: str) -> Path:
    _, _, files, work = received
    with Image.open(files[0]) as image:
        image.convert("RGB").save(work / name, format="JPEG", quality=50)
    return work / name


def test_a_copy_of_evidence_sealed_before_the_index_is_recovered_after_the_backfill(
    received: Received, services: Services, ledger: Engine
) -> None:
    cast, shipped, _, _ = received
    indexed = _rows(ledger)
    assert indexed
    _forget_index(ledger)
    before = flows.dispute(cast, shipped.order_id, [_copy(received, "before.jpg")])
    assert flows.codes(before) == {"no_manifest"}
    report = backfill_fingerprints(services.ledger.fingerprints, services.store, batch=1)
    assert (report.indexed, report.unreadable, report.more) == (2, 0, False)
    assert _rows(ledger) == indexed  # the very rows the seals wrote
    after = flows.dispute(cast, shipped.order_id, [_copy(received, "after.jpg")])
    assert flows.codes(after) == {"manifest_recovered"}


def test_a_second_run_indexes_nothing_and_a_bounded_run_resumes(
    received: Received, services: Services, ledger: Engine
) -> None:
    full = _rows(ledger)
    again = backfill_fingerprints(services.ledger.fingerprints, services.store)
    assert again.indexed == 0
    assert _rows(ledger) == full
    _forget_index(ledger)
    first = backfill_fingerprints(services.ledger.fingerprints, services.store, max_files=1)
    assert (first.indexed, first.more) == (1, True)
    rest = backfill_fingerprints(services.ledger.fingerprints, services.store, max_files=10)
    assert (rest.indexed, rest.more) == (1, False)
    assert _rows(ledger) == full


def test_a_missing_sealed_object_is_counted_and_skipped(
    received: Received, services: Services, ledger: Engine
) -> None:
    _, shipped, _, _ = received
    full = _rows(ledger)
    _forget_index(ledger)
    packing = shipped.evidence[0]["evidence_id"]
    with ledger.begin() as connection:
        key = connection.execute(
            text("SELECT storage_key FROM evidence WHERE evidence_id = :e"), {"e": packing}
        ).scalar_one()
        connection.execute(
            text("UPDATE evidence SET storage_key = :k WHERE evidence_id = :e"),
            {"k": "sha256/" + "0" * 64, "e": packing},
        )
    try:
        report = backfill_fingerprints(services.ledger.fingerprints, services.store)
        assert (report.indexed, report.unreadable) == (1, 1)
    finally:
        with ledger.begin() as connection:
            connection.execute(
                text("UPDATE evidence SET storage_key = :k WHERE evidence_id = :e"),
                {"k": key, "e": packing},
            )
    backfill_fingerprints(services.ledger.fingerprints, services.store)
    assert _rows(ledger) == full


@pytest.mark.parametrize(
    ("args", "code"),
    [(["--batch", "0"], 2), (["--max-files", "0"], 2), ([], 0)],
    ids=["zero-batch", "zero-bound", "default"],
)
def test_the_command(settings: Settings, received: Received, args: list[str], code: int) -> None:
    result = CliRunner().invoke(
        app, ["db", "backfill-fingerprints", *args], env=settings_env(settings)
    )
    assert result.exit_code == code, result.output
    if code == 0:
        assert "indexed 0" in result.output
