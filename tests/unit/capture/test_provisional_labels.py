"""What a provisional label resolves to (``capture.provisional_labels``), on a real SQLite
ledger migrated like production: each refusal code, the policy, the expiry boundary.

Adversaries: a buyer app's key signing a label; a token of a synced local session naming
another order; a second token with the same claims (not the one synced); the label of a
station for another merchant's order.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from capture.errors import TokenError
from capture.provisional_labels import ProvisionalResolver, token_sha256
from infra.db import create_ledger_engine, create_schema, session_factory
from infra.ledger.models import CaptureSession, Device, Order
from infra.ledger.provisional import ProvisionalLabelRow
from infra.ledger.repository import Ledger
from wire.provisional import ProvisionalLabel, issue_provisional_token

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
TTL = timedelta(days=60)
KEYS: dict[str, ec.EllipticCurvePrivateKey] = {}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ledger-template") / "ledger.sqlite3"
    engine = create_ledger_engine(f"sqlite:///{path}")
    create_schema(engine)
    engine.dispose()
    return path


@pytest.fixture
def ledger(template: Path, tmp_path: Path) -> Iterator[Ledger]:
    path = tmp_path / "ledger.sqlite3"
    shutil.copyfile(template, path)
    engine = create_ledger_engine(f"sqlite:///{path}")
    ledger = Ledger(session_factory(engine))
    ledger.add_order(_order("ord-1"))
    ledger.add_order(_order("ord-2"))
    _enrol(ledger, "station-1", kind="station")
    _enrol(ledger, "app-1", kind="buyer")
    yield ledger
    engine.dispose()


def _order(order_id: str) -> Order:
    return Order(
        order_id=order_id,
        buyer_id="buyer-1",
        items=[{"sku": "S", "quantity": 1}],
        declared_value="1.00",
        currency="USD",
        carrier=None,
        tracking_number=None,
        expected_delivery=None,
        created_at=NOW,
    )


def _enrol(ledger: Ledger, device_id: str, *, kind: str) -> None:
    key = KEYS.setdefault(device_id, ec.generate_private_key(ec.SECP256R1()))
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, device_id)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    ledger.add_device(
        Device(
            device_id=device_id,
            kind=kind,
            owner_id="buyer-1" if kind == "buyer" else None,
            certificate_pem=certificate.public_bytes(serialization.Encoding.PEM).decode(),
            serial_hex=f"{certificate.serial_number:x}",
            not_after=NOW + timedelta(days=30),
            enrolled_at=NOW,
            revoked_at=None,
            revoke_reason=None,
        )
    )


def _token(order_id: str = "ord-1", *, signer: str = "station-1", named: str = "station-1") -> str:
    label = ProvisionalLabel(order_id, named, "ls_1", NOW, secrets.token_urlsafe(6))
    return issue_provisional_token(KEYS[signer], label)


def _synced(ledger: Ledger, token: str, *, replaced: bool = True) -> None:
    ledger.add_session(
        CaptureSession(
            session_id="ss_1",
            order_id="ord-1",
            stage="shipment",
            device_id="station-1",
            buyer_id=None,
            opened_at=NOW,
            expires_at=NOW + timedelta(hours=12),
            closed_at=NOW if replaced else None,
        )
    )
    ledger.provisional.add(
        ProvisionalLabelRow(
            device_id="station-1",
            local_session_id="ls_1",
            order_id="ord-1",
            token_sha256=token_sha256(token),
            session_id="ss_1",
            station_closed_at=NOW,
            station_clock=NOW,
            service_clock=NOW,
            clock_gap_seconds=0.0,
        )
    )
    if replaced:
        ledger.provisional.replace("station-1", "ls_1", "OS1.official.token", at=NOW)


def _code(resolver: ProvisionalResolver, token: str, now: datetime = NOW) -> str:
    with pytest.raises(TokenError) as refused:
        resolver.resolve(token, now=now)
    return refused.value.code


def test_a_replaced_label_resolves_to_its_official_session_until_its_expiry(
    ledger: Ledger,
) -> None:
    token = _token()
    _synced(ledger, token)
    resolver = ProvisionalResolver(ledger=ledger, policy="accept", label_ttl=TTL)
    label, row = resolver.resolve(token, now=NOW + TTL - timedelta(seconds=1))
    assert (label.order_id, label.session_id, row.local_session_id) == ("ord-1", "ss_1", "ls_1")
    assert _code(resolver, token, NOW + TTL) == "token_expired"


def test_before_its_replacement_a_label_is_not_yet_synced(ledger: Ledger) -> None:
    resolver = ProvisionalResolver(ledger=ledger, policy="accept", label_ttl=TTL)
    token = _token()
    assert _code(resolver, token) == "label_not_yet_synced"
    _synced(ledger, token, replaced=False)  # session opened at sync, not closed yet
    assert _code(resolver, token) == "label_not_yet_synced"


def test_policy_refuse_refuses_a_replaced_label(ledger: Ledger) -> None:
    token = _token()
    _synced(ledger, token)
    resolver = ProvisionalResolver(ledger=ledger, policy="refuse", label_ttl=TTL)
    assert _code(resolver, token) == "label_provisional_refused"


@pytest.mark.parametrize(
    ("signer", "named", "code"),
    [("app-1", "app-1", "token_forged"), ("app-1", "station-1", "token_forged")],
    ids=["buyer-app-names-itself", "buyer-app-names-the-station"],
)
def test_a_label_not_signed_by_the_station_it_names_is_forged(
    ledger: Ledger, signer: str, named: str, code: str
) -> None:
    resolver = ProvisionalResolver(ledger=ledger, policy="accept", label_ttl=TTL)
    assert _code(resolver, _token(signer=signer, named=named)) == code


def test_another_token_of_a_synced_session_is_refused(ledger: Ledger) -> None:
    _synced(ledger, _token())
    resolver = ProvisionalResolver(ledger=ledger, policy="accept", label_ttl=TTL)
    assert _code(resolver, _token("ord-2")) == "label_order_mismatch"
    assert _code(resolver, _token("ord-1")) == "token_forged"  # same claims, not the synced one


def test_a_stations_label_for_another_merchants_order_is_not_assigned(ledger: Ledger) -> None:
    other = _order("ord-other")
    other.merchant_id = "other-merchant"
    ledger.add_order(other)
    resolver = ProvisionalResolver(ledger=ledger, policy="accept", label_ttl=TTL)
    assert _code(resolver, _token("ord-other")) == "label_not_assigned"
    assert _code(resolver, _token("ord-unknown")) == "label_not_assigned"
