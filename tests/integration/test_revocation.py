"""Revocation of devices and of the sealing key, through ``orderseal keys`` and the verifier.

Evidence sealed before a revocation (per a trusted time) stays ``allow`` with a note in the
verdict; evidence sealed after it is ``block`` with ``signer_revoked``; a revoked device
cannot open capture sessions; the CRLs list the revoked serials, signed by the issuing CA.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509

from clients.client import APIError
from evidence.manifest import CaptureAssertion, Stage
from infra.settings import Settings
from orderseal.samples import make_jpeg
from orderseal.services import Services
from tests.support import flows
from tests.support.keys_cli import check_keys, run_keys


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("revocation")


def _revocation_notes(decided: dict[str, Any]) -> list[str]:
    return [
        check["detail"]
        for evidence in decided["verdict"]["evidence"]
        for check in evidence["checks"]
        if check["check"] == "revocation" and check["passed"] and "note" in check["detail"]
    ]


def _received(cast: flows.Actors, work: Path) -> tuple[str, list[Path]]:
    order_id = flows.register_order(cast)
    shipped = flows.ship(cast, order_id, work)
    return order_id, flows.receive(cast, shipped, work)


def test_revoked_station_cannot_open_sessions(
    settings: Settings, live_api: str, credentials: dict[str, str]
) -> None:
    cast = flows.actors(live_api, credentials)
    order_id = flows.register_order(cast)
    check_keys(settings, "revoke", cast.station.device.device_id, "--reason", "key_compromise")
    with pytest.raises(APIError) as caught:
        cast.station.open_session(order_id)
    assert (caught.value.status, caught.value.code) == (403, "device_revoked")


def test_device_revoked_after_the_seal_keeps_evidence_with_a_note(
    settings: Settings, live_api: str, credentials: dict[str, str], work: Path
) -> None:
    cast = flows.actors(live_api, credentials)
    order_id, files = _received(cast, work)
    check_keys(settings, "revoke", cast.buyer_device.device_id, "--reason", "superseded")
    decided = flows.dispute(cast, order_id, files)
    assert decided["verdict"]["decision"] == "allow"
    assert flows.codes(decided) == set()
    assert _revocation_notes(decided), decided["verdict"]["evidence"][0]["checks"]


def test_device_revoked_before_the_seal_blocks(
    settings: Settings, live_api: str, credentials: dict[str, str], work: Path
) -> None:
    cast = flows.actors(live_api, credentials)
    order_id = flows.register_order(cast)
    shipped = flows.ship(cast, order_id, work)
    compromised_since = datetime.now(UTC)
    time.sleep(0.01)
    files = flows.receive(cast, shipped, work)
    check_keys(
        settings,
        "revoke",
        cast.buyer_device.device_id,
        "--reason",
        "keyCompromise",
        "--at",
        compromised_since.isoformat(),
    )
    decided = flows.dispute(cast, order_id, files)
    assert decided["verdict"]["decision"] == "block"
    assert "signer_revoked" in flows.codes(decided)


def test_revoke_refuses_unknown_device_and_reason(settings: Settings) -> None:
    unknown = run_keys(settings, "revoke", "no-such-device", "--reason", "superseded")
    assert unknown.returncode == 3
    assert "device_not_found" in unknown.stdout
    bad_reason = run_keys(settings, "revoke", "no-such-device", "--reason", "bored")
    assert bad_reason.returncode == 3
    assert "revocation_reason_invalid" in bad_reason.stdout


def test_crl_lists_revoked_devices_signed_by_the_device_ca(
    live_api: str, services: Services
) -> None:
    revoked = {
        device_id: services.ledger.get_device(device_id)
        for device_id in services.ledger.revoked_devices()
    }
    assert len(revoked) >= 3
    der = httpx.get(f"{live_api}/v1/trust/crl")
    assert der.status_code == 200
    assert der.headers["content-type"] == "application/pkix-crl"
    crl = x509.load_der_x509_crl(der.content)
    device_ca = services.keys.load_ca("device-ca").certificate
    assert crl.issuer == device_ca.subject
    assert crl.is_signature_valid(device_ca.public_key())  # type: ignore[arg-type]
    listed = {entry.serial_number for entry in crl}
    for row in revoked.values():
        assert row is not None
        assert int(row.serial_hex, 16) in listed
    reasons = {
        entry.extensions.get_extension_for_class(x509.CRLReason).value.reason for entry in crl
    }
    assert x509.ReasonFlags.key_compromise in reasons

    pem = httpx.get(f"{live_api}/v1/trust/crl", params={"format": "pem"})
    assert pem.headers["content-type"] == "application/x-pem-file"
    assert x509.load_pem_x509_crl(pem.content) == crl
    by_accept = httpx.get(f"{live_api}/v1/trust/crl", headers={"Accept": "application/x-pem-file"})
    assert by_accept.content.startswith(b"-----BEGIN X509 CRL-----")
    bad = httpx.get(f"{live_api}/v1/trust/crl", params={"ca": "root"})
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "invalid_request")


def test_revoked_sealing_key(
    settings: Settings,
    services: Services,
    live_api: str,
    credentials: dict[str, str],
    work: Path,
) -> None:
    """Last in the module: the module's sealing key is revoked from here on."""
    cast = flows.actors(live_api, credentials)
    before_order, before_files = _received(cast, work)
    revoked_since = datetime.now(UTC)
    time.sleep(0.01)
    after_order, after_files = _received(cast, work)
    in_transit = flows.ship(cast, flows.register_order(cast), work)  # label printed pre-revocation
    buyer = cast.buyer()
    assert buyer.check_qr(in_transit.label_token)["official"] is True
    serial = format(services.capture.sealer.signer.certificate_chain[0].serial_number, "x")
    check_keys(
        settings,
        "revoke-service",
        serial,
        "--reason",
        "key_compromise",
        "--at",
        revoked_since.isoformat(),
    )

    before = flows.dispute(cast, before_order, before_files)
    assert before["verdict"]["decision"] == "allow"
    assert _revocation_notes(before)

    after = flows.dispute(cast, after_order, after_files)
    assert after["verdict"]["decision"] == "block"
    assert "signer_revoked" in flows.codes(after)

    # Sealed by the revoked key but unknown to our ledger and without a timestamp: no
    # trusted time says it came before the revocation.
    source = make_jpeg(work / "stray-src.jpg", seed=404, size=(320, 240))
    stray = work / "stray.jpg"
    now = datetime.now(UTC).isoformat()
    services.capture.sealer.seal(
        source,
        stray,
        media_type="image/jpeg",
        assertion=CaptureAssertion(
            order_id=before_order,
            stage=Stage.RECEIPT,
            device_id=cast.buyer_device.device_id,
            session_id=f"rs_{uuid.uuid4().hex[:8]}",
            captured_at=now,
            received_at=revoked_since.replace(year=2000).isoformat(),
            content_sha256="0" * 64,
            media_type="image/jpeg",
        ),
        title="stray.jpg",
    )
    stray_verdict = flows.dispute(cast, before_order, [stray])
    assert stray_verdict["verdict"]["decision"] == "block"
    assert "signer_revoked" in flows.codes(stray_verdict)

    crl = x509.load_der_x509_crl(
        httpx.get(f"{live_api}/v1/trust/crl", params={"ca": "service"}).content
    )
    assert crl.get_revoked_certificate_by_serial_number(int(serial, 16)) is not None

    # A compromised key could print labels for any order: its labels no longer open sessions.
    with pytest.raises(APIError) as refused:
        buyer.open_receipt(in_transit.label_token)
    assert (refused.value.status, refused.value.code) == (401, "token_revoked")
    assert buyer.check_qr(in_transit.label_token)["official"] is False
