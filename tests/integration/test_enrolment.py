"""Device enrolment by ``orderseal keys enroll``, renewal with the same key, and who may capture.

A device that is not enrolled, whose certificate expired, or that was revoked cannot open a
capture session. Renewal needs the enrolled key: the CSR must carry it and the request must
be signed by it, freshly.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509

from capture.devices import enrol_device, renewal_payload
from clients.client import APIError, DeviceKey, PlatformClient, StationClient
from infra.settings import Settings
from keys.attestation import sign_bytes
from keys.enroll import device_id_of
from keys.profile import CLAIM_SIGNING_EKUS, DEVICE_EKUS
from orderseal.samples import make_jpeg
from orderseal.services import Services
from tests.support import flows
from tests.support.device_signers import (
    LEGACY_DEVICE_EKUS,
    enrol_legacy_device,
    legacy_device_certificate,
)
from tests.support.keys_cli import check_keys, run_keys


def _enrol_by_cli(settings: Settings, tmp_path: Path, kind: str = "station") -> DeviceKey:
    device = DeviceKey.generate(f"{kind}-cli-{time.monotonic_ns() % 10**9}")
    csr = tmp_path / f"{device.device_id}.csr"
    csr.write_text(device.csr_pem())
    out = tmp_path / f"{device.device_id}.pem"
    args = ["enroll", "--csr", str(csr), "--device-id", device.device_id, "--kind", kind]
    if kind == "buyer":
        args += ["--owner", "buyer-cli"]
    check_keys(settings, *args, "--out", str(out))
    return dataclasses.replace(
        device, certificate=x509.load_pem_x509_certificates(out.read_bytes())[0]
    )


def _enrol_briefly(services: Services, device: DeviceKey, *, seconds: int) -> datetime:
    """Enrol a station whose certificate lasts ``seconds``; returns when it expires."""
    issued = enrol_device(
        services.keys,
        services.ledger,
        csr_pem=device.csr_pem().encode(),
        device_id=device.device_id,
        kind="station",
        owner_id=None,
        now=datetime.now(UTC),
        validity=timedelta(seconds=seconds),
    )
    return issued.certificate.not_valid_after_utc


def _wait_past(moment: datetime) -> None:
    # Certificate times have whole-second precision: a second more is safely past.
    time.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()) + 1.1)


def _renewal(
    device: DeviceKey, signing_key: DeviceKey | None = None, **changes: Any
) -> dict[str, Any]:
    csr = changes.pop("csr_pem", device.csr_pem())
    timestamp = str(int(changes.pop("at", datetime.now(UTC)).timestamp()))
    payload = renewal_payload(device.device_id, csr.encode(), timestamp)
    signature = sign_bytes((signing_key or device).private_key, payload)
    return {"csr_pem": csr, "timestamp": timestamp, "signature": signature}


def _renew(base_url: str, device: DeviceKey, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{base_url}/v1/devices/{device.device_id}/renewal", json=body)


def _ekus(certificate: x509.Certificate) -> set[x509.ObjectIdentifier]:
    return set(certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def test_cli_enrolled_station_can_capture(
    settings: Settings, live_api: str, credentials: dict[str, str], tmp_path: Path
) -> None:
    device = _enrol_by_cli(settings, tmp_path)
    assert device.certificate is not None
    assert device_id_of(device.certificate) == device.device_id
    assert _ekus(device.certificate) == set(DEVICE_EKUS)
    validity = device.certificate.not_valid_after_utc - datetime.now(UTC)
    assert timedelta(days=29) < validity <= timedelta(days=settings.device_cert_days)
    cast = flows.actors(live_api, credentials)
    order_id = flows.register_order(cast)
    session = StationClient(live_api, device).open_session(order_id)
    assert session["order_id"] == order_id


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--kind", "buyer"], "certificate_invalid"),  # a buyer app needs --owner
        (["--kind", "printer"], "certificate_invalid"),
    ],
    ids=["buyer-without-owner", "unknown-kind"],
)
def test_cli_enroll_refuses(settings: Settings, tmp_path: Path, args: list[str], code: str) -> None:
    csr = tmp_path / "x.csr"
    csr.write_text(DeviceKey.generate("x").csr_pem())
    result = run_keys(settings, "enroll", "--csr", str(csr), "--device-id", "refused-1", *args)
    assert result.returncode == 3
    assert code in result.stdout


def test_renewal_by_the_same_key(
    settings: Settings,
    services: Services,
    live_api: str,
    credentials: dict[str, str],
    tmp_path: Path,
) -> None:
    device = _enrol_by_cli(settings, tmp_path)
    assert device.certificate is not None
    response = _renew(live_api, device, _renewal(device))
    assert response.status_code == 200, response.text
    renewed = x509.load_pem_x509_certificate(response.json()["certificate_pem"].encode())
    assert renewed.serial_number != device.certificate.serial_number
    assert renewed.public_key() == device.certificate.public_key()
    row = services.ledger.get_device(device.device_id)
    assert row is not None
    assert row.serial_hex == format(renewed.serial_number, "x")
    crl = services.keys.published_crl("device-ca", now=datetime.now(UTC))
    superseded = crl.get_revoked_certificate_by_serial_number(device.certificate.serial_number)
    assert superseded is not None
    reason = superseded.extensions.get_extension_for_class(x509.CRLReason).value.reason
    assert reason == x509.ReasonFlags.superseded
    assert crl.get_revoked_certificate_by_serial_number(renewed.serial_number) is None
    cast = flows.actors(live_api, credentials)
    StationClient(live_api, device).open_session(flows.register_order(cast))

    csr = tmp_path / "renew.csr"
    csr.write_text(device.csr_pem())
    check_keys(settings, "renew", device.device_id, "--csr", str(csr))


def test_renewal_refusals(settings: Settings, live_api: str, tmp_path: Path) -> None:
    device = _enrol_by_cli(settings, tmp_path)
    stranger = DeviceKey.generate(device.device_id)
    cases = {
        "renewal_key_mismatch": _renewal(device, device, csr_pem=stranger.csr_pem()),
        "renewal_proof_invalid": _renewal(device, stranger),
        "renewal_expired": _renewal(device, at=datetime.now(UTC) - timedelta(minutes=10)),
    }
    for code, body in cases.items():
        response = _renew(live_api, device, body)
        assert (response.status_code, response.json()["error"]["code"]) == (422, code)
    malformed = _renew(live_api, device, {"csr_pem": "x", "timestamp": "abc", "signature": "s"})
    assert (malformed.status_code, malformed.json()["error"]["code"]) == (422, "invalid_request")
    # An unknown id answers like a bad proof, so ids cannot be probed (issue 14.17).
    unknown = _renew(live_api, DeviceKey.generate("never-enrolled"), _renewal(stranger))
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (422, "renewal_proof_invalid")

    check_keys(settings, "revoke", device.device_id, "--reason", "cessation_of_operation")
    revoked = _renew(live_api, device, _renewal(device))
    assert (revoked.status_code, revoked.json()["error"]["code"]) == (403, "device_revoked")


def test_unknown_expired_and_revoked_devices_cannot_open_sessions(
    settings: Settings,
    services: Services,
    live_api: str,
    credentials: dict[str, str],
    tmp_path: Path,
) -> None:
    order_id = flows.register_order(flows.actors(live_api, credentials))

    def refused(device: DeviceKey) -> tuple[int, str]:
        with pytest.raises(APIError) as caught:
            StationClient(live_api, device).open_session(order_id)
        return caught.value.status, caught.value.code

    # An unknown id is answered like a bad signature: ids cannot be probed.
    assert refused(DeviceKey.generate("station-unknown")) == (401, "credentials_forged")

    short = DeviceKey.generate(f"station-short-{time.monotonic_ns() % 10**9}")
    expires = _enrol_briefly(services, short, seconds=1)
    _wait_past(expires)
    assert refused(short) == (403, "device_certificate_invalid")
    csr = tmp_path / "late.csr"
    csr.write_text(short.csr_pem())
    late = run_keys(settings, "renew", short.device_id, "--csr", str(csr))
    assert late.returncode == 3
    assert "device_certificate_expired" in late.stdout

    revoked = _enrol_by_cli(settings, tmp_path)
    check_keys(settings, "revoke", revoked.device_id, "--reason", "superseded")
    assert refused(revoked) == (403, "device_revoked")


def test_a_device_that_worked_is_refused_once_its_certificate_expires(
    services: Services, live_api: str, credentials: dict[str, str]
) -> None:
    """The verified-certificate cache never outlives the certificate's validity."""
    order_id = flows.register_order(flows.actors(live_api, credentials))
    device = DeviceKey.generate(f"station-brief-{time.monotonic_ns() % 10**9}")
    expires = _enrol_briefly(services, device, seconds=4)
    station = StationClient(live_api, device)
    assert station.open_session(order_id)["order_id"] == order_id
    _wait_past(expires)
    with pytest.raises(APIError) as caught:
        station.open_session(order_id)
    assert (caught.value.status, caught.value.code) == (403, "device_certificate_invalid")


def test_admin_route_still_enrols(live_api: str, credentials: dict[str, str]) -> None:
    device = flows.enrol(PlatformClient(live_api, credentials["admin"]), "station")
    assert device.device_id.startswith("station-")


def test_admin_route_refuses_a_buyer_device_without_its_owner(
    live_api: str, credentials: dict[str, str]
) -> None:
    """The HTTP route and the CLI share one rule: an ownerless buyer key is never issued."""
    device = DeviceKey.generate("buyer-ownerless")
    refused = httpx.post(
        f"{live_api}/v1/devices",
        headers={"Authorization": f"Bearer {credentials['admin']}"},
        json={"device_id": device.device_id, "kind": "buyer", "csr_pem": device.csr_pem()},
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "certificate_invalid"


def test_device_enrolled_before_the_profile_change_works_until_renewed_into_it(
    services: Services, live_api: str, credentials: dict[str, str], tmp_path: Path
) -> None:
    """An old-profile device (claim-signing EKUs) still signs requests and capture statements;
    renewal re-issues it without any claim-signing EKU."""
    device = DeviceKey.generate(f"station-legacy-{time.monotonic_ns() % 10**9}")
    now = datetime.now(UTC)
    legacy = legacy_device_certificate(
        services.keys.load_ca("device-ca"),
        device.private_key.public_key(),
        device_id=device.device_id,
        kind="station",
        now=now,
    )
    assert _ekus(legacy) == set(LEGACY_DEVICE_EKUS)
    enrol_legacy_device(
        services.ledger, legacy, device_id=device.device_id, kind="station", owner_id=None, now=now
    )
    device = dataclasses.replace(device, certificate=legacy)
    cast = flows.actors(live_api, credentials)
    station = StationClient(live_api, device)
    session = station.open_session(flows.register_order(cast))
    photo = make_jpeg(tmp_path / "legacy.jpg", seed=31, size=(320, 240))
    assert station.upload(session, photo, title="legacy.jpg")["evidence_id"]

    response = _renew(live_api, device, _renewal(device))
    assert response.status_code == 200, response.text
    renewed = x509.load_pem_x509_certificate(response.json()["certificate_pem"].encode())
    assert _ekus(renewed) == set(DEVICE_EKUS)
    assert not _ekus(renewed) & CLAIM_SIGNING_EKUS
    assert renewed.public_key() == legacy.public_key()
    station = StationClient(live_api, dataclasses.replace(device, certificate=renewed))
    session = station.open_session(flows.register_order(cast))
    # A new photo: the same bytes in a second order are refused (capture_sealed_elsewhere).
    photo = make_jpeg(tmp_path / "renewed.jpg", seed=32, size=(320, 240))
    assert station.upload(session, photo, title="renewed.jpg")["evidence_id"]
