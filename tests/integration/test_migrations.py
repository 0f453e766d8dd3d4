"""Alembic migrations build exactly the models' schema, on the backend under test."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

from infra.ledger.models import Base
from infra.migrate import current_revision, head_revision, upgrade_schema
from infra.services import Services
from infra.settings import Settings
from infra.storage.local import LocalEvidenceStore
from infra.storage.s3 import S3EvidenceStore
from tests.support.databases import backend, storage_backend


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
