"""Alembic migrations build exactly the models' schema, on the backend under test."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import BigInteger, create_engine, inspect, text

from infra.ledger.models import Base
from infra.migrate import current_revision, head_revision, upgrade_schema
from infra.settings import Settings
from infra.storage.local import LocalEvidenceStore
from infra.storage.s3 import S3EvidenceStore
from orderseal.services import Services
from tests.support.databases import backend, fresh_database_url, storage_backend


def test_backend_under_test_is_the_one_requested(settings: Settings) -> None:
    url = settings.resolved_database_url
    assert url.startswith("postgresql+psycopg://" if backend() == "postgres" else "sqlite:///")


def test_migrated_schema_matches_the_models(settings: Settings) -> None:
    engine = create_engine(settings.resolved_database_url)
    try:
        assert current_revision(engine) == head_revision()
        with engine.connect() as connection:
            drift = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert drift == [], (
            "models changed without a migration: run the command in docs/operations.md"
        )
    finally:
        engine.dispose()


def test_upgrade_is_idempotent(settings: Settings) -> None:
    engine = create_engine(settings.resolved_database_url)
    try:
        upgrade_schema(engine)
        upgrade_schema(engine)
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_storage_under_test_is_the_one_requested(services: Services) -> None:
    expected = S3EvidenceStore if storage_backend() == "s3" else LocalEvidenceStore
    assert isinstance(services.store, expected)


def test_concurrent_upgrades_of_a_fresh_postgresql_database_all_succeed() -> None:
    """Workers and hosts starting together: one migrates, the others find the schema at head."""
    with fresh_database_url(postgres=True) as url:
        # lock_timeout turns a regression (DDL racing DDL) into a failure instead of a hang.
        timeout = {"options": "-c lock_timeout=20000"}
        engines = [create_engine(url, connect_args=timeout) for _ in range(4)]
        try:
            with ThreadPoolExecutor(max_workers=4) as pool:
                list(pool.map(upgrade_schema, engines))
            assert {current_revision(engine) for engine in engines} == {head_revision()}
        finally:
            for engine in engines:
                engine.dispose()


def test_file_sizes_hold_more_than_2_gib(settings: Settings) -> None:
    """An 8 GiB upload is allowed, so its size must not overflow a 32-bit column."""
    engine = create_engine(settings.resolved_database_url)
    try:
        schema = inspect(engine)
        for table, name in (
            ("evidence", "sealed_size"),
            ("flagged_uploads", "size"),
            ("dispute_evidence", "size"),
        ):
            column = next(c for c in schema.get_columns(table) if c["name"] == name)
            assert isinstance(column["type"], BigInteger), (table, name, column["type"])
    finally:
        engine.dispose()


def test_existing_api_keys_get_distinct_public_ids(tmp_path: Path) -> None:
    """Migration 0007 backfills a ``kid_`` id for every key ``orderseal init`` wrote before."""
    with fresh_database_url() as url:
        engine = create_engine(url or f"sqlite:///{tmp_path / 'before-0007.sqlite3'}")
        try:
            upgrade_schema(engine, "0006")
            with engine.begin() as connection:
                for role in ("platform", "agent"):
                    connection.execute(
                        text(
                            "INSERT INTO api_keys (key_hash, role, subject, created_at) "
                            "VALUES (:hash, :role, :subject, :at)"
                        ),
                        {"hash": role * 8, "role": role, "subject": role, "at": datetime.now(UTC)},
                    )
            upgrade_schema(engine)
            with engine.connect() as connection:
                ids = connection.execute(text("SELECT key_id FROM api_keys")).scalars().all()
            assert len(set(ids)) == 2
            assert all(re.fullmatch(r"kid_[0-9a-f]{16}", key_id) for key_id in ids), ids
        finally:
            engine.dispose()


def test_platform_api_columns_are_backfilled(tmp_path: Path) -> None:
    """Migration 0008: orders are open; disputes get updated_at and their latest reason codes."""
    filed, decided = datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 1, 2, tzinfo=UTC)
    with fresh_database_url() as url:
        engine = create_engine(url or f"sqlite:///{tmp_path / 'before-0008.sqlite3'}")
        try:
            upgrade_schema(engine, "0007")
            with engine.begin() as connection:
                connection.execute(
                    text(
                        "INSERT INTO orders (order_id, buyer_id, items, declared_value, currency, "
                        "created_at) VALUES ('o-1', 'b-1', '[]', '1.00', 'USD', :at)"
                    ),
                    {"at": filed},
                )
                for dispute_id, decision, at in (
                    ("d-open", None, None),
                    ("d-done", "review", decided),
                ):
                    connection.execute(
                        text(
                            "INSERT INTO disputes (dispute_id, order_id, buyer_id, claim_type, "
                            "amount, currency, created_at, decision, decided_at) VALUES "
                            "(:id, 'o-1', 'b-1', 'damaged', '1.00', 'USD', :filed, :decision, :at)"
                        ),
                        {"id": dispute_id, "filed": filed, "decision": decision, "at": at},
                    )
                for codes in (["no_evidence"], ["no_manifest", "buyer_mismatch"]):
                    body = json.dumps({"reasons": [{"code": c} for c in codes]})
                    connection.execute(
                        text(
                            "INSERT INTO verdicts (dispute_id, decision, body, decided_at) "
                            "VALUES ('d-done', 'review', :body, :at)"
                        ),
                        {"body": body, "at": decided},
                    )
            upgrade_schema(engine)
            with engine.connect() as connection:
                status = connection.execute(text("SELECT status FROM orders")).scalar_one()
                rows: dict[str, str | None] = dict(
                    connection.execute(text("SELECT dispute_id, reason_codes FROM disputes")).all()
                )
                updated = (
                    connection.execute(text("SELECT updated_at FROM disputes ORDER BY dispute_id"))
                    .scalars()
                    .all()
                )
            assert status == "open"
            assert rows == {"d-done": ",buyer_mismatch,no_manifest,", "d-open": None}
            assert [str(u)[:10] for u in updated] == ["2030-01-02", "2030-01-01"]
        finally:
            engine.dispose()
