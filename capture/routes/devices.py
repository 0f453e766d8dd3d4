"""Device routes: admin enrolment of a CSR, renewal by the device, buyer app self-enrolment.

Renewal is open to the device itself (``PublicCaller``): it proves possession of the
enrolled key twice, by the CSR's self-signature over the same public key and by signing a
fresh ``ORDERSEAL-RENEW-V1`` statement (device id, timestamp, CSR hash) with it. Until that
signature verifies, an unknown device id and an enrolled one answer alike.

A browser install cannot easily build a CSR: it enrols its WebCrypto key with a proof of
possession over a single-use nonce (``POST /v1/buyer-devices/challenge``); see
:mod:`capture.devices`. Enrolments count against their own per-buyer rate limit.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from capture.devices import IssuedDevice
from capture.routes.deps import Clock, Devices
from capture.schemas import (
    BuyerDeviceChallengeOut,
    BuyerDeviceIn,
    BuyerDeviceOut,
    DeviceEnrolIn,
    DeviceEnrolOut,
    DeviceRenewalIn,
)
from infra.auth import AdminPrincipal, BuyerPrincipal, PublicCaller
from infra.json_body import BoundedJSONRoute
from infra.ratelimit import enforce

__all__ = ["router"]

router = APIRouter(prefix="/v1", route_class=BoundedJSONRoute)


def _enrol_out(issued: IssuedDevice) -> DeviceEnrolOut:
    return DeviceEnrolOut(
        device_id=issued.device_id,
        certificate_pem=issued.certificate_pem,
        chain_pem=issued.chain_pem,
        not_after=issued.certificate.not_valid_after_utc,
    )


def _buyer_device_out(issued: IssuedDevice, owner_id: str) -> BuyerDeviceOut:
    return BuyerDeviceOut(
        device_id=issued.device_id,
        owner_id=owner_id,
        certificate_pem=issued.certificate_pem,
        chain_pem=issued.chain_pem,
        not_after=issued.certificate.not_valid_after_utc,
    )


@router.post("/devices", status_code=201, tags=["admin"])
def enrol_device(
    body: DeviceEnrolIn, principal: AdminPrincipal, devices: Devices, clock: Clock
) -> DeviceEnrolOut:
    """Approve a device's CSR: the device keeps its key, we issue a short-lived leaf."""
    issued = devices.enrol(
        csr_pem=body.csr_pem.encode(),
        device_id=body.device_id,
        kind=body.kind,
        owner_id=body.owner_id,
        now=clock(),
        merchant_id=body.merchant_id,
    )
    return _enrol_out(issued)


@router.post("/devices/{device_id}/renewal", tags=["device"])
def renew_device_certificate(
    device_id: str, body: DeviceRenewalIn, caller: PublicCaller, devices: Devices, clock: Clock
) -> DeviceEnrolOut:
    """Renew a device certificate before it expires, with the same device key."""
    issued = devices.renew(
        device_id,
        csr_pem=body.csr_pem.encode(),
        timestamp=body.timestamp,
        signature=body.signature,
        now=clock(),
    )
    return _enrol_out(issued)


@router.post("/buyer-devices/challenge", status_code=201, tags=["buyer"])
def buyer_device_challenge(
    principal: BuyerPrincipal, devices: Devices, clock: Clock
) -> BuyerDeviceChallengeOut:
    """A single-use nonce the install signs into its enrolment proof (replays are refused)."""
    nonce, expires_at = devices.enrolment_challenge(buyer_id=principal.subject, now=clock())
    return BuyerDeviceChallengeOut(nonce=nonce, expires_at=expires_at)


@router.post("/buyer-devices", status_code=201, tags=["buyer"])
def enrol_buyer_device(
    body: BuyerDeviceIn,
    principal: BuyerPrincipal,
    request: Request,
    devices: Devices,
    clock: Clock,
) -> BuyerDeviceOut:
    """A buyer's app install enrols its own key (proof of possession over a fresh nonce).

    Refusals: ``429 rate_limited`` (the buyer's ``enrolments`` bucket),
    ``422 device_challenge_invalid``, ``409 device_challenge_used`` (a replayed nonce),
    ``409 device_limit_reached`` (``ORDERSEAL_MAX_BUYER_DEVICES`` active installs already),
    ``422 device_key_invalid`` / ``device_proof_invalid``.
    """
    enforce(request, "enrolments", principal)
    issued = devices.enrol_buyer_app(
        buyer_id=principal.subject,
        public_key_spki=body.public_key_spki,
        proof=body.proof,
        nonce=body.nonce,
        now=clock(),
    )
    return _buyer_device_out(issued, principal.subject)


@router.get("/buyer-devices/{device_id}", tags=["buyer"])
def buyer_device(
    device_id: str, principal: BuyerPrincipal, devices: Devices, clock: Clock
) -> BuyerDeviceOut:
    """Is this install still enrolled to the caller and valid now? (The page asks on load.)

    Someone else's device and an unknown one get the same 404, so ids cannot be probed.
    """
    issued = devices.buyer_device(device_id, buyer_id=principal.subject, now=clock())
    return _buyer_device_out(issued, principal.subject)
