"""Trusted time: seals carry an RFC 3161 timestamp from a real TSA on loopback.

The TSA is ``openssl ts -reply`` behind a small HTTP server (tests/support/tsa.py); its root
is added to our anchors with ``orderseal keys add-anchor``. A timestamped seal stays
``Trusted`` after its short-lived signing certificate expires; an untimestamped one does not.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from capture.sealing.seal import Sealer
from evidence.manifest import CaptureAssertion, Stage
from evidence.reader import TrustSettings, read_evidence
from infra.settings import Settings
from keys.backends.pem import PEMFileSigner
from keys.ca import generate_private_key, issue_certificate, subject_name
from keys.profile import CertificateRole
from orderseal.samples import make_jpeg
from orderseal.services import Services
from tests.conftest import make_settings
from tests.support import flows
from tests.support.keys_cli import check_keys
from tests.support.tsa import TimestampAuthority
from verifier.checks.revocation import check_revocation
from verifier.facts import AttachedFile
from verifier.models import DisputeContext


@pytest.fixture(scope="module")
def tsa() -> Iterator[TimestampAuthority]:
    with TimestampAuthority() as authority:
        yield authority


@pytest.fixture(scope="module")
def settings(
    module_home: Path,
    database_url: str,
    storage_overrides: dict[str, object],
    tsa: TimestampAuthority,
) -> Settings:
    tsa_settings = make_settings(
        module_home, database_url=database_url, tsa_url=tsa.url, **storage_overrides
    )
    check_keys(tsa_settings, "add-anchor", str(tsa.directory / "root.crt"))
    return tsa_settings


def _assertion(source: Path) -> CaptureAssertion:
    now = datetime.now(UTC).isoformat()
    return CaptureAssertion(
        order_id="ORD-TSA",
        stage=Stage.SHIPMENT,
        device_id="station-tsa",
        session_id="ss_tsa",
        captured_at=now,
        received_at=now,
        content_sha256=hashlib.sha256(source.read_bytes()).hexdigest(),
        media_type="image/jpeg",
    )


def _trust(services: Services) -> TrustSettings:
    return TrustSettings(anchors_pem=services.keys.trust_list().pem)


def test_settings_wire_the_tsa(services: Services, tsa: TimestampAuthority) -> None:
    assert services.capture.sealer.tsa_url == tsa.url
    assert tsa.root in services.keys.trust_list().anchors


def test_service_seals_carry_a_trusted_timestamp(
    services: Services,
    live_api: str,
    credentials: dict[str, str],
    tsa: TimestampAuthority,
    tmp_path: Path,
) -> None:
    before = tsa.requests
    cast = flows.actors(live_api, credentials)
    order_id = flows.register_order(cast)
    files = flows.receive(cast, flows.ship(cast, order_id, tmp_path), tmp_path)
    assert tsa.requests > before
    report = read_evidence(files[0], trust=_trust(services))
    assert report.state == "Trusted"
    assert report.active_manifest.signed_at is not None
    assert abs(report.active_manifest.signed_at - datetime.now(UTC)) < timedelta(minutes=2)
    assert flows.dispute(cast, order_id, files)["verdict"]["decision"] == "allow"


def test_timestamp_keeps_evidence_trusted_after_the_certificate_expires(
    services: Services, tsa: TimestampAuthority, tmp_path: Path
) -> None:
    service_ca = services.keys.load_ca("service-ca")
    key = generate_private_key()
    leaf = issue_certificate(
        service_ca,
        key.public_key(),
        subject_name("Short-lived sealer", unit="service"),
        role=CertificateRole.SERVICE,
        now=datetime.now(UTC),
        validity=timedelta(seconds=3),
    )
    signer = PEMFileSigner(key, (leaf, service_ca.certificate))
    trust_pem = services.keys.trust_list().pem
    source = make_jpeg(tmp_path / "src.jpg", seed=11, size=(320, 240))
    stamped, bare = tmp_path / "stamped.jpg", tmp_path / "bare.jpg"
    Sealer(signer, trust_pem, tsa_url=tsa.url).seal(
        source, stamped, media_type="image/jpeg", assertion=_assertion(source), title="s.jpg"
    )
    Sealer(signer, trust_pem).seal(
        source, bare, media_type="image/jpeg", assertion=_assertion(source), title="b.jpg"
    )
    assert read_evidence(bare, trust=_trust(services)).state == "Trusted"  # still valid now

    time.sleep(max(0.0, (leaf.not_valid_after_utc - datetime.now(UTC)).total_seconds()) + 1.5)

    assert read_evidence(stamped, trust=_trust(services)).state == "Trusted"
    assert read_evidence(bare, trust=_trust(services)).state != "Trusted"


def test_revocation_is_judged_by_the_timestamp(services: Services, tmp_path: Path) -> None:
    source = make_jpeg(tmp_path / "rev-src.jpg", seed=12, size=(320, 240))
    sealed = tmp_path / "rev.jpg"
    services.capture.sealer.seal(
        source, sealed, media_type="image/jpeg", assertion=_assertion(source), title="r.jpg"
    )
    digest = hashlib.sha256(sealed.read_bytes()).hexdigest()
    facts = services.verifier.facts.gather(AttachedFile(sealed, "rev.jpg", digest), dispute_id=None)
    assert facts.report is not None
    assert facts.ledger_record is None  # not in our ledger: only the timestamp says when
    stamped_at = facts.report.active_manifest.signed_at
    assert stamped_at is not None
    serial = facts.report.active_manifest.cert_serial_number or ""
    context = DisputeContext(order_id="ORD-TSA", buyer_id=None, order=None, now=datetime.now(UTC))

    def service_results(revoked_at: datetime) -> list[tuple[bool, str]]:
        revoked = dataclasses.replace(facts, revoked_service_certificates={serial: revoked_at})
        return [
            (r.passed, r.detail)
            for r in check_revocation(revoked, context)
            if "sealing key" in r.detail
        ]

    ((later_ok, note),) = service_results(stamped_at + timedelta(hours=1))
    assert later_ok
    assert "timestamp time" in note
    ((earlier_ok, _),) = service_results(stamped_at - timedelta(hours=1))
    assert not earlier_ok
