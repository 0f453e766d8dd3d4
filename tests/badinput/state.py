"""What the service has stored: ledger row counts and evidence-store objects, for before/after."""

from __future__ import annotations

from dataclasses import dataclass

import boto3
from botocore.config import Config as BotoConfig
from sqlalchemy import create_engine, func, select

from infra.ledger.models import (
    Dispute,
    DisputeEvidence,
    Evidence,
    FlaggedUpload,
    Merchant,
    MerchantResponse,
    Order,
    OrderReopen,
)
from infra.settings import Settings

__all__ = ["Stored", "stored"]

_MODELS = (
    Evidence,
    DisputeEvidence,
    Dispute,
    Order,
    FlaggedUpload,
    Merchant,
    MerchantResponse,
    OrderReopen,
)


@dataclass(frozen=True)
class Stored:
    """Row counts per table and the set of stored object keys."""

    rows: dict[str, int]
    objects: frozenset[str]


def _objects(settings: Settings) -> frozenset[str]:
    if settings.storage == "s3":
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            aws_access_key_id=settings.s3_access_key,
            aws_secret_access_key=settings.s3_secret_key.get_secret_value(),
            region_name=settings.s3_region,
            config=BotoConfig(s3={"addressing_style": "path"}),
        )
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=settings.s3_bucket)
        return frozenset(item["Key"] for page in pages for item in page.get("Contents", []))
    root = settings.resolved_home / "evidence"
    return frozenset(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def stored(settings: Settings) -> Stored:
    """Snapshot the ledger row counts and the evidence store's objects."""
    engine = create_engine(settings.resolved_database_url)
    try:
        with engine.connect() as connection:
            rows = {
                model.__tablename__: int(
                    connection.execute(select(func.count()).select_from(model)).scalar_one()
                )
                for model in _MODELS
            }
    finally:
        engine.dispose()
    return Stored(rows, _objects(settings))
