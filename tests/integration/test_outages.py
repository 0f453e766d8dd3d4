"""Storage and database outages: retryable errors, no partial records, recovery in place.

Runs on its own SeaweedFS (stopped and restarted here) and its own PostgreSQL database
(renamed away and back to simulate the server being unreachable).
"""

from __future__ import annotations

import hashlib
import inspect
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import httpx
import pytest
from botocore.config import Config as BotoConfig
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from clients.client import APIError, BuyerClient, PlatformClient
from infra.errors import UnavailableError
from infra.ledger.api_keys import APIKeyInfo, APIKeys
from infra.ledger.idempotency import IdempotencyRecords
from infra.ledger.merchants import Merchants
from infra.ledger.models import (
    CaptureSession,
    Device,
    Dispute,
    DisputeEvidence,
    Evidence,
    FlaggedUpload,
    Order,
)
from infra.ledger.repository import Ledger
from infra.settings import Settings
from keys.store import DevelopmentCAWarning
from orderseal.app import create_app
from orderseal.bootstrap import initialize_home, load_credentials
from orderseal.samples import make_jpeg
from orderseal.server import serve_in_thread
from orderseal.services import Services, build_services
from tests.conftest import free_port
from tests.support import flows
from tests.support.databases import fresh_database_url
from tests.support.seaweed import SeaweedS3


@dataclass
class Stack:
    settings: Settings
    services: Services
    base_url: str
    s3: SeaweedS3
    credentials: dict[str, str]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("outage-home")
    with fresh_database_url(postgres=True) as url, SeaweedS3() as s3:
        settings = Settings(
            home=home,
            port=free_port(),
            database_url=url,
            storage="s3",
            s3_endpoint_url=s3.endpoint_url,
            s3_bucket="evidence-outage",
            s3_access_key=s3.access_key,
            s3_secret_key=s3.secret_key,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DevelopmentCAWarning)
            initialize_home(settings)
        services = build_services(settings)
        with serve_in_thread(
            create_app(settings, services=services), host="127.0.0.1", port=settings.port
        ):
            yield Stack(settings, services, settings.base_url, s3, load_credentials(settings))


def _count(stack: Stack, model: type[Evidence] | type[DisputeEvidence]) -> int:
    engine = create_engine(stack.settings.resolved_database_url)
    with engine.connect() as connection:
        total = connection.execute(select(func.count()).select_from(model)).scalar_one()
    engine.dispose()
    return int(total)


def test_storage_outage_during_capture_and_dispute(stack: Stack, tmp_path: Path) -> None:
    cast = flows.actors(stack.base_url, stack.credentials)
    order_id = flows.register_order(cast)
    session = cast.station.open_session(order_id)
    photo = make_jpeg(tmp_path / "p.jpg", seed=3, size=(200, 150))
    dispute = cast.platform.call(
        "POST",
        "/v1/disputes",
        json={
            "order_id": order_id,
            "buyer_id": cast.buyer_id,
            "claim_type": "damaged",
            "amount": "1.00",
            "currency": "USD",
        },
    )
    evidence_before, attached_before = _count(stack, Evidence), _count(stack, DisputeEvidence)

    stack.s3.stop()
    try:
        with pytest.raises(APIError) as capture_error:
            cast.station.upload(session, photo, title="p.jpg", idempotency_key="cap-1")
        assert (capture_error.value.status, capture_error.value.code) == (
            503,
            "storage_unavailable",
        )
        with pytest.raises(APIError) as attach_error:
            cast.platform.attach_file(dispute["dispute_id"], photo, filename="p.jpg")
        assert (attach_error.value.status, attach_error.value.code) == (503, "storage_unavailable")
        ready = httpx.get(f"{stack.base_url}/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["storage"] == "storage_unavailable"
        assert _count(stack, Evidence) == evidence_before
        assert _count(stack, DisputeEvidence) == attached_before
    finally:
        stack.s3.start()

    # Recovery without restarting OrderSeal: the station retries with the same key.
    sealed = cast.station.upload(session, photo, title="p.jpg", idempotency_key="cap-1")
    again = cast.station.upload(session, photo, title="p.jpg", idempotency_key="cap-1")
    assert again["evidence_id"] == sealed["evidence_id"]
    assert again["replayed"] is True
    assert _count(stack, Evidence) == evidence_before + 1
    assert (
        cast.platform.attach_file(dispute["dispute_id"], photo, filename="p.jpg")["attached"]
        is True
    )
    assert httpx.get(f"{stack.base_url}/readyz").status_code == 200


def test_database_outage_during_capture_and_dispute(stack: Stack, tmp_path: Path) -> None:
    cast = flows.actors(stack.base_url, stack.credentials)
    order_id = flows.register_order(cast)
    session = cast.station.open_session(order_id)
    photo = make_jpeg(tmp_path / "q.jpg", seed=4, size=(200, 150))
    url = make_url(stack.settings.resolved_database_url)
    name = str(url.database)
    admin = create_engine(url.set(database="test"), isolation_level="AUTOCOMMIT")

    def rename(old: str, new: str) -> None:
        with admin.connect() as connection:
            connection.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :db"),
                {"db": old},
            )
            connection.execute(text(f'ALTER DATABASE "{old}" RENAME TO "{new}"'))

    rename(name, f"{name}_away")
    try:
        with pytest.raises(APIError) as capture_error:
            cast.station.upload(session, photo, title="q.jpg", idempotency_key="db-1")
        assert (capture_error.value.status, capture_error.value.code) == (503, "ledger_unavailable")
        with pytest.raises(APIError) as dispute_error:
            cast.platform.call(
                "POST",
                "/v1/disputes",
                json={
                    "order_id": order_id,
                    "buyer_id": cast.buyer_id,
                    "claim_type": "damaged",
                    "amount": "1.00",
                    "currency": "USD",
                },
            )
        assert (dispute_error.value.status, dispute_error.value.code) == (503, "ledger_unavailable")
        assert (
            httpx.get(f"{stack.base_url}/readyz").json()["checks"]["database"]
            == "ledger_unavailable"
        )
    finally:
        rename(f"{name}_away", name)
        admin.dispose()

    sealed = cast.station.upload(session, photo, title="q.jpg", idempotency_key="db-1")
    assert sealed["replayed"] is False
    assert httpx.get(f"{stack.base_url}/readyz").status_code == 200


def _bucket_keys(stack: Stack) -> set[str]:
    """Every object key in the evidence bucket (through the raw S3 API, not the store)."""
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=stack.s3.endpoint_url,
        aws_access_key_id=stack.s3.access_key,
        aws_secret_access_key=stack.s3.secret_key,
        region_name=stack.s3.region,
        config=BotoConfig(s3={"addressing_style": "path"}),
    )
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=str(stack.settings.s3_bucket))
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


def _ledger_keys(stack: Stack) -> set[str]:
    engine = create_engine(stack.settings.resolved_database_url)
    with engine.connect() as connection:
        rows = connection.execute(select(Evidence.storage_key, Evidence.archive_key)).all()
    engine.dispose()
    return {key for row in rows for key in row if key}


def test_ledger_write_lost_after_storage_write_leaves_only_an_unserved_orphan(
    stack: Stack, tmp_path: Path
) -> None:
    """The connection dies inside the evidence INSERT, after the sealed object was stored."""
    cast = flows.actors(stack.base_url, stack.credentials)
    order_id = flows.register_order(cast)
    session = cast.station.open_session(order_id)
    photo = make_jpeg(tmp_path / "r.jpg", seed=5, size=(200, 150))
    admin = create_engine(stack.settings.resolved_database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        # The backend writing this order's evidence terminates itself mid-INSERT: a real
        # lost connection at the worst moment, scoped to this one order.
        connection.execute(
            text(
                "CREATE FUNCTION orderseal_test_drop() RETURNS trigger LANGUAGE plpgsql AS $$ "
                "BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NEW; END $$"
            )
        )
        connection.execute(
            text(
                "CREATE TRIGGER orderseal_test_drop BEFORE INSERT ON evidence FOR EACH ROW "
                f"WHEN (NEW.order_id = '{order_id}') EXECUTE FUNCTION orderseal_test_drop()"
            )
        )
    objects_before = _bucket_keys(stack)
    try:
        with pytest.raises(APIError) as lost:
            cast.station.upload(session, photo, title="r.jpg", idempotency_key="lost-1")
        assert (lost.value.status, lost.value.code) == (503, "ledger_unavailable")
    finally:
        with admin.connect() as connection:
            connection.execute(text("DROP TRIGGER orderseal_test_drop ON evidence"))
            connection.execute(text("DROP FUNCTION orderseal_test_drop()"))
        admin.dispose()

    orphans = _bucket_keys(stack) - objects_before
    assert orphans  # the write-once object stayed (it cannot be deleted under Object Lock) ...
    assert not orphans & _ledger_keys(
        stack
    )  # ... but no ledger row names it, so no route serves it

    sealed = cast.station.upload(session, photo, title="r.jpg", idempotency_key="lost-1")
    assert sealed["replayed"] is False
    agent = PlatformClient(stack.base_url, stack.credentials["agent"])
    served = agent.http.get(f"/v1/evidence/{sealed['evidence_id']}/file")
    assert served.status_code == 200
    row = stack.services.ledger.get_evidence(sealed["evidence_id"])
    assert row is not None
    assert row.storage_key not in orphans
    assert hashlib.sha256(served.content).hexdigest() == row.sealed_sha256


# Every route family with the database down (issue 14.11) ---------------------------------
@dataclass
class Prepared:
    """State made while the database is up, so each family's request needs the ledger."""

    cast: flows.Actors
    buyer: BuyerClient
    agent: PlatformClient
    admin: PlatformClient
    order_id: str
    fresh_order_id: str
    shipped: flows.Shipped
    dispute_id: str
    sealed_file: bytes


@pytest.fixture(scope="module")
def prepared(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    work = tmp_path_factory.mktemp("outage-families")
    cast = flows.actors(stack.base_url, stack.credentials)
    order_id = flows.register_order(cast)
    shipped = flows.ship(cast, order_id, work)
    agent = PlatformClient(stack.base_url, stack.credentials["agent"])
    sealed = agent.http.get(f"/v1/evidence/{shipped.evidence[0]['evidence_id']}/file")
    sealed.raise_for_status()
    dispute = cast.platform.call(
        "POST",
        "/v1/disputes",
        json={
            "order_id": order_id,
            "buyer_id": cast.buyer_id,
            "claim_type": "damaged",
            "amount": "1.00",
            "currency": "USD",
        },
    )
    # Published once while the database is up; later scrapes read the key store.
    assert httpx.get(f"{stack.base_url}/v1/trust/crl").status_code == 200
    return Prepared(
        cast=cast,
        buyer=cast.buyer(),
        agent=agent,
        admin=PlatformClient(stack.base_url, stack.credentials["admin"]),
        order_id=order_id,
        fresh_order_id=flows.register_order(cast),
        shipped=shipped,
        dispute_id=dispute["dispute_id"],
        sealed_file=sealed.content,
    )


@contextmanager
def _database_down(stack: Stack) -> Iterator[None]:
    """The PostgreSQL database disappears (renamed away, its connections cut), then returns."""
    url = make_url(stack.settings.resolved_database_url)
    name = str(url.database)
    admin = create_engine(url.set(database="test"), isolation_level="AUTOCOMMIT")

    def rename(old: str, new: str) -> None:
        with admin.connect() as connection:
            connection.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :db"),
                {"db": old},
            )
            connection.execute(text(f'ALTER DATABASE "{old}" RENAME TO "{new}"'))

    rename(name, f"{name}_away")
    try:
        yield
    finally:
        rename(f"{name}_away", name)
        admin.dispose()


def _answer(call: Callable[[], object]) -> tuple[int, str]:
    """(status, error code) of a client call; (200, "ok") when it succeeded."""
    try:
        result = call()
    except APIError as exc:
        return exc.status, exc.code
    if isinstance(result, httpx.Response):
        if result.is_success:
            return 200, "ok"
        return result.status_code, result.json()["error"]["code"]
    return 200, "ok"


FAMILIES: dict[str, Callable[[Prepared, Stack], object]] = {
    "capture-open-session": lambda p, s: p.cast.station.open_session(p.fresh_order_id),
    "capture-label": lambda p, s: p.cast.station.label_png(p.order_id),
    "receipt-open": lambda p, s: p.buyer.open_receipt(p.shipped.label_token),
    "receipt-qr-check": lambda p, s: p.buyer.check_qr(p.shipped.label_token),
    "disputes-read": lambda p, s: p.cast.platform.call("GET", f"/v1/disputes/{p.dispute_id}"),
    "disputes-decide": lambda p, s: p.cast.platform.call(
        "POST", f"/v1/disputes/{p.dispute_id}/decide"
    ),
    "agent-list": lambda p, s: p.agent.call("GET", "/v1/disputes"),
    "agent-report": lambda p, s: p.agent.http.get(f"/v1/disputes/{p.dispute_id}/report"),
    "public-verify": lambda p, s: httpx.post(
        f"{s.base_url}/verify",
        content=p.sealed_file,
        headers={"Content-Type": "application/octet-stream"},
        timeout=60,
    ),
    "admin-enrol": lambda p, s: flows.enrol(p.admin, "station"),
}


@pytest.mark.parametrize("family", sorted(FAMILIES), ids=sorted(FAMILIES))
def test_every_route_family_answers_ledger_unavailable_while_the_database_is_down(
    stack: Stack, prepared: Prepared, family: str
) -> None:
    call = FAMILIES[family]
    with _database_down(stack):
        assert _answer(lambda: call(prepared, stack)) == (503, "ledger_unavailable")
    assert _answer(lambda: call(prepared, stack)) == (200, "ok")


def test_published_trust_is_served_while_the_database_is_down(
    stack: Stack, prepared: Prepared
) -> None:
    """The CRL and anchors come from the key store: relying parties keep them in an outage."""
    with _database_down(stack):
        for path in ("/v1/trust/crl", "/v1/trust/anchors", "/v1/trust/c2pa-anchors"):
            assert httpx.get(f"{stack.base_url}{path}").status_code == 200
        ready = httpx.get(f"{stack.base_url}/readyz")
        assert ready.status_code == 503


_NOW = datetime(2030, 1, 1, tzinfo=UTC)
#: One call per public Ledger method; the test below fails when a method is missing here.
LEDGER_CALLS: dict[str, Callable[[Ledger], object]] = {
    "ping": lambda ledger: ledger.ping(),
    "add_order": lambda ledger: ledger.add_order(Order(order_id="o-down")),
    "get_order": lambda ledger: ledger.get_order("o"),
    "update_open_order": lambda ledger: ledger.update_open_order("o", {}, now=_NOW),
    "cancel_order": lambda ledger: ledger.cancel_order("o", now=_NOW),
    "add_device": lambda ledger: ledger.add_device(Device(device_id="d-down")),
    "get_device": lambda ledger: ledger.get_device("d"),
    "revoked_devices": lambda ledger: ledger.revoked_devices(),
    "revoke_device": lambda ledger: ledger.revoke_device("d", at=_NOW, reason="r"),
    "renew_device": lambda ledger: ledger.renew_device(
        "d", certificate_pem="", serial_hex="", not_after=_NOW
    ),
    "use_nonce": lambda ledger: ledger.use_nonce("n", "d", _NOW, keep_for=timedelta(minutes=10)),
    "add_session": lambda ledger: ledger.add_session(CaptureSession(session_id="s-down")),
    "get_session": lambda ledger: ledger.get_session("s"),
    "close_session": lambda ledger: ledger.close_session("s", _NOW),
    "close_open_receipt_sessions": lambda ledger: ledger.close_open_receipt_sessions(
        "o", "b", _NOW
    ),
    "latest_shipment_session": lambda ledger: ledger.latest_shipment_session("o"),
    "add_evidence": lambda ledger: ledger.add_evidence(Evidence(evidence_id="e-down")),
    "set_ingredient_archive": lambda ledger: ledger.set_ingredient_archive("e", "k", "h"),
    "get_evidence": lambda ledger: ledger.get_evidence("e"),
    "find_by_idempotency": lambda ledger: ledger.find_by_idempotency("d", "k"),
    "evidence_by_manifest": lambda ledger: ledger.evidence_by_manifest(["m"]),
    "evidence_by_sealed_sha256": lambda ledger: ledger.evidence_by_sealed_sha256("h"),
    "evidence_for_order": lambda ledger: ledger.evidence_for_order("o"),
    "shipment_evidence_elsewhere": lambda ledger: ledger.shipment_evidence_elsewhere(
        "h", merchant_id="m", order_id="o"
    ),
    "add_flagged_upload": lambda ledger: ledger.add_flagged_upload(FlaggedUpload()),
    "flagged_uploads": lambda ledger: ledger.flagged_uploads("o"),
    "add_dispute": lambda ledger: ledger.add_dispute(Dispute(dispute_id="x-down")),
    "get_dispute": lambda ledger: ledger.get_dispute("x"),
    "attach": lambda ledger: ledger.attach(DisputeEvidence()),
    "attachments": lambda ledger: ledger.attachments("x"),
    "detach": lambda ledger: ledger.detach("x", "h", now=_NOW),
    "perceptual_candidates": lambda ledger: ledger.perceptual_candidates("x"),
    "other_disputes_with": lambda ledger: ledger.other_disputes_with("x", "h", "m"),
    "dispute_orders": lambda ledger: ledger.dispute_orders(["x"]),
    "record_verdict": lambda ledger: ledger.record_verdict("x", "allow", {}, _NOW),
    "audit_entries": lambda ledger: ledger.audit_entries(),
    "count_refunds_for_order": lambda ledger: ledger.count_refunds_for_order("o", excluding="x"),
    "count_disputes_by_buyer": lambda ledger: ledger.count_disputes_by_buyer(
        "b", since=_NOW, excluding="x"
    ),
    "list_disputes": lambda ledger: ledger.list_disputes(),
    "platform_disputes": lambda ledger: ledger.platform_disputes(),
    "latest_verdicts": lambda ledger: ledger.latest_verdicts(["x"]),
    "disputes_since": lambda ledger: ledger.disputes_since(None),
    "verdict_basis": lambda ledger: ledger.verdict_basis("x"),
    "verdicts": lambda ledger: ledger.verdicts("x"),
    "merchant_responses": lambda ledger: ledger.merchant_responses("x"),
    "packed_shipment_session": lambda ledger: ledger.packed_shipment_session("o"),
    "release_shipment_sessions": lambda ledger: ledger.release_shipment_sessions(
        "o", by="p", at=_NOW
    ),
    "count_active_buyer_devices": lambda ledger: ledger.count_active_buyer_devices("b", now=_NOW),
    "prune_flagged_uploads": lambda ledger: ledger.prune_flagged_uploads(before=_NOW),
    "upload_bytes_for_order": lambda ledger: ledger.upload_bytes_for_order("o"),
    "upload_bytes_for_buyer": lambda ledger: ledger.upload_bytes_for_buyer("b", since=_NOW),
}


#: One call per public APIKeys method (the ledger's operator-key repository).
API_KEY_CALLS: dict[str, Callable[[APIKeys], object]] = {
    "issue": lambda keys: keys.issue(role="admin", subject="s", now=_NOW),
    "list_keys": lambda keys: keys.list_keys(),
    "get": lambda keys: keys.get("kid_0000000000000000"),
    "rotate": lambda keys: keys.rotate("kid_0000000000000000", now=_NOW),
    "revoke": lambda keys: keys.revoke("kid_0000000000000000", now=_NOW),
    "find": lambda keys: keys.find("k"),
    "mark_used": lambda keys: keys.mark_used(
        APIKeyInfo("kid_0000000000000000", "admin", "s", None, _NOW, None, None, None, None),
        now=_NOW,
    ),
}


#: One call per public IdempotencyRecords method (the Idempotency-Key repository).
IDEMPOTENCY_CALLS: dict[str, Callable[[IdempotencyRecords], object]] = {
    "claim": lambda records: records.claim(
        scope="s",
        route="r",
        key="k",
        request_sha256="h",
        now=_NOW,
        expires_at=_NOW,
        stale_before=_NOW,
    ),
    "complete": lambda records: records.complete(
        scope="s", route="r", key="k", status_code=201, response={}
    ),
    "release": lambda records: records.release(scope="s", route="r", key="k"),
    "prune": lambda records: records.prune(before=_NOW),
}


#: One call per public Merchants method (the merchant tenants' repository).
MERCHANT_CALLS: dict[str, Callable[[Merchants], object]] = {
    "add": lambda merchants: merchants.add("m-down", name="M", now=_NOW),
    "get": lambda merchants: merchants.get("m"),
    "require": lambda merchants: merchants.require("m"),
    "list_merchants": lambda merchants: merchants.list_merchants(),
    "order": lambda merchants: merchants.order("m", "o"),
    "dispute": lambda merchants: merchants.dispute("m", "d"),
    "evidence": lambda merchants: merchants.evidence("m", "e"),
    "disputes": lambda merchants: merchants.disputes("m"),
    "attributed_counts": lambda merchants: merchants.attributed_counts(
        "m", since=_NOW, excluding="d"
    ),
    "buyer_swaps": lambda merchants: merchants.buyer_swaps("b", since=_NOW, excluding="d"),
    "reopen": lambda merchants: merchants.reopen(
        "o", merchant_id=None, by_role="platform", by_subject="p", reason=None, at=_NOW
    ),
    "reopens": lambda merchants: merchants.reopens("o"),
    "add_response": lambda merchants: merchants.add_response(
        "d",
        merchant_id="m",
        statement="s",
        evidence_ids=(),
        created_by="a",
        now=_NOW,
        max_responses=50,
    ),
    "responses": lambda merchants: merchants.responses("d"),
}


def test_every_merchant_query_is_listed_and_maps_an_outage(stack: Stack) -> None:
    public = {
        name
        for name, member in inspect.getmembers(Merchants, inspect.isfunction)
        if not name.startswith("_")
    }
    assert public == set(MERCHANT_CALLS)
    answers: dict[str, str] = {}
    with _database_down(stack):
        for name, call in sorted(MERCHANT_CALLS.items()):
            try:
                call(stack.services.ledger.merchants)
                answers[name] = "answered"
            except UnavailableError as exc:
                answers[name] = exc.code
    assert answers == dict.fromkeys(MERCHANT_CALLS, "ledger_unavailable")


def test_every_idempotency_query_is_listed_and_maps_an_outage(stack: Stack) -> None:
    public = {
        name
        for name, member in inspect.getmembers(IdempotencyRecords, inspect.isfunction)
        if not name.startswith("_")
    }
    assert public == set(IDEMPOTENCY_CALLS)
    answers: dict[str, str] = {}
    with _database_down(stack):
        for name, call in sorted(IDEMPOTENCY_CALLS.items()):
            try:
                call(stack.services.ledger.idempotency)
                answers[name] = "answered"
            except UnavailableError as exc:
                answers[name] = exc.code
    assert answers == dict.fromkeys(IDEMPOTENCY_CALLS, "ledger_unavailable")


def test_every_ledger_query_is_listed() -> None:
    """A new Ledger method joins LEDGER_CALLS, so the outage test below covers it too."""
    public = {
        name
        for name, member in inspect.getmembers(Ledger, inspect.isfunction)
        if not name.startswith("_")
    }
    assert public == set(LEDGER_CALLS)
    key_queries = {
        name
        for name, member in inspect.getmembers(APIKeys, inspect.isfunction)
        if not name.startswith("_")
    }
    assert key_queries == set(API_KEY_CALLS)


def test_every_ledger_query_maps_an_outage_to_ledger_unavailable(stack: Stack) -> None:
    """Queries behind authentication too, not only the ones a request reaches first."""
    ledger = stack.services.ledger
    answers: dict[str, str] = {}
    with _database_down(stack):
        for name, call in sorted(LEDGER_CALLS.items()):
            try:
                call(ledger)
                answers[name] = "answered"
            except UnavailableError as exc:
                answers[name] = exc.code
            except Exception as exc:  # noqa: BLE001 - the report names every unmapped query
                answers[name] = type(exc).__name__
        for name, key_call in sorted(API_KEY_CALLS.items()):
            try:
                key_call(ledger.api_keys)
                answers[f"api_keys.{name}"] = "answered"
            except UnavailableError as exc:
                answers[f"api_keys.{name}"] = exc.code
            except Exception as exc:  # noqa: BLE001 - the report names every unmapped query
                answers[f"api_keys.{name}"] = type(exc).__name__
    expected = [*LEDGER_CALLS, *(f"api_keys.{name}" for name in API_KEY_CALLS)]
    assert answers == dict.fromkeys(expected, "ledger_unavailable")
    ledger.ping()
