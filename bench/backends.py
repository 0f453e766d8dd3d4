"""The production-shaped backend for the HTTP benchmark: PostgreSQL plus a real S3 server.

The same pieces the test suite runs against: a fresh database on the PostgreSQL at
127.0.0.1:5432 (dropped afterwards) and a SeaweedFS S3 endpoint started on loopback ports.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from tests.support.databases import fresh_database_url
from tests.support.seaweed import SeaweedS3

__all__ = ["postgres_s3_env"]


@contextmanager
def postgres_s3_env() -> Iterator[dict[str, str]]:
    """Start the backends; yield the ``ORDERSEAL_*`` environment that points a server at them."""
    with fresh_database_url(postgres=True) as database_url, SeaweedS3() as s3:
        yield {
            "ORDERSEAL_DATABASE_URL": database_url,
            "ORDERSEAL_STORAGE": "s3",
            "ORDERSEAL_S3_ENDPOINT_URL": s3.endpoint_url,
            "ORDERSEAL_S3_BUCKET": f"bench-{secrets.token_hex(4)}",
            "ORDERSEAL_S3_ACCESS_KEY": s3.access_key,
            "ORDERSEAL_S3_SECRET_KEY": s3.secret_key,
        }
