"""Per-caller count limits hold under concurrent requests, on SQLite and on PostgreSQL.

Adversary: a platform (or merchant) client firing many requests at once so that each one
counts the rows before any other has inserted, to pass the limit of live report links, webhook
endpoints or merchant responses by its own concurrency. The count and the insert share one
lock per scope (``infra.ledger.counting``), so exactly the limit is stored.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from infra.db import create_ledger_engine, create_schema, session_factory
from infra.errors import ConflictError
from infra.ledger.agent_models import ReportLink
from infra.ledger.models import Dispute, Order
from infra.ledger.repository import Ledger
from infra.ledger.webhook_models import WebhookEndpoint

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
WRITERS = 12
LIMIT = 5


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[Ledger]:
    """One ledger for the module: each test counts in a scope of its own."""
    url = database_url or f"sqlite:///{tmp_path_factory.mktemp('limits') / 'ledger.sqlite3'}"
    engine = create_ledger_engine(url)
    create_schema(engine)
    ledger = Ledger(session_factory(engine))
    ledger.add_order(
        Order(
            order_id="ord-1",
            buyer_id="buyer-1",
            items=[],
            declared_value="10.00",
            currency="EUR",
            created_at=NOW,
        )
    )
    ledger.add_dispute(
        Dispute(
            dispute_id="dp-1",
            order_id="ord-1",
            buyer_id="buyer-1",
            claim_type="damaged",
            amount="10.00",
            currency="EUR",
            created_at=NOW,
            decision=None,
            decided_at=None,
            updated_at=NOW,
        )
    )
    yield ledger
    engine.dispose()


def _race(insert: Callable[[int], None]) -> tuple[int, set[str]]:
    """Run ``WRITERS`` inserts released at once; (stored count, error codes)."""
    start = threading.Barrier(WRITERS)
    stored = 0
    codes: set[str] = set()
    lock = threading.Lock()

    def writer(index: int) -> None:
        nonlocal stored
        start.wait()
        try:
            insert(index)
        except ConflictError as exc:
            with lock:
                codes.add(exc.code)
            return
        with lock:
            stored += 1

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return stored, codes


def test_concurrent_report_links_stop_at_the_limit(ledger: Ledger) -> None:
    def insert(index: int) -> None:
        ledger.agent_work.add_link(
            ReportLink(
                link_id=f"rl-{index}",
                dispute_id="dp-1",
                token_sha256=f"{index:064x}",
                created_by="platform-a",
                created_at=NOW,
                expires_at=NOW + timedelta(days=1),
            ),
            max_live=LIMIT,
        )

    assert _race(insert) == (LIMIT, {"report_link_limit_reached"})


def test_concurrent_webhook_endpoints_stop_at_the_limit(ledger: Ledger) -> None:
    def insert(index: int) -> None:
        endpoint = WebhookEndpoint(
            endpoint_id=f"we-{index}",
            owner="platform-a",
            url=f"https://hooks.example/{index}",
            event_types=None,
            secret="sealed",
            previous_secret=None,
            previous_expires_at=None,
            created_at=NOW,
            deleted_at=None,
        )
        if not ledger.webhooks.add_endpoint(endpoint, max_live=LIMIT):
            raise ConflictError("full", code="webhook_endpoint_limit_reached")

    assert _race(insert) == (LIMIT, {"webhook_endpoint_limit_reached"})


def test_concurrent_merchant_responses_stop_at_the_limit(ledger: Ledger) -> None:
    def insert(index: int) -> None:
        ledger.merchants.add_response(
            "dp-1",
            merchant_id="m-1",
            statement=f"answer {index}",
            evidence_ids=(),
            created_by="shop-admin",
            now=NOW,
            max_responses=LIMIT,
        )

    assert _race(insert) == (LIMIT, {"response_limit_reached"})
    assert len(ledger.merchants.responses("dp-1")) == LIMIT
