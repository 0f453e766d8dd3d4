"""Key lifecycle routes: device certificate renewal and published trust (C2PA anchors, CRLs).

Renewal is open to the device itself (``PublicCaller``): it proves possession of the
enrolled key twice, by the CSR's self-signature over the same public key and by signing a
fresh ``ORDERSEAL-RENEW-V1`` statement (device id, timestamp, CSR hash) with it. Until that
signature verifies, an unknown device id and an enrolled one answer alike.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from cryptography.hazmat.primitives import serialization
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from capture.context import CaptureContext
from capture.devices import renew_device, verify_renewal_proof
from capture.schemas import DeviceEnrolOut
from infra.auth import PublicCaller
from keys.publish import c2pa_settings, claim_signing_trust

__all__ = ["DeviceRenewalIn", "router"]

router = APIRouter(prefix="/v1")

_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class DeviceRenewalIn(BaseModel):
    """A renewal request, signed by the device's enrolled key."""

    model_config = ConfigDict(extra="forbid")

    csr_pem: str = Field(max_length=16_384)
    timestamp: str = Field(pattern=r"^[0-9]{1,12}$")
    signature: str = Field(max_length=512, description="base64url ECDSA over the renewal payload")


def _services(request: Request) -> CaptureContext:
    services: CaptureContext = request.app.state.services
    return services


@router.post("/devices/{device_id}/renewal", tags=["device"])
def renew_device_certificate(
    device_id: str, body: DeviceRenewalIn, caller: PublicCaller, request: Request
) -> DeviceEnrolOut:
    """Renew a device certificate before it expires, with the same device key."""
    services = _services(request)
    now = services.clock()
    # Proof first, against the enrolled certificate or a decoy: an unknown id and an enrolled
    # one with a bad proof get the same 422 renewal_proof_invalid after the same work. Only
    # the key holder learns that the device is revoked or expired.
    enrolled = services.ledger.get_device(device_id)
    verify_renewal_proof(
        enrolled.certificate_pem if enrolled is not None else None,
        device_id=device_id,
        csr_pem=body.csr_pem.encode(),
        timestamp=body.timestamp,
        signature=body.signature,
        now=now,
    )
    services.capture.device_identity(device_id, now=now)  # revoked or expired: 403
    issued = renew_device(
        services.keys,
        services.ledger,
        device_id=device_id,
        csr_pem=body.csr_pem.encode(),
        now=now,
        validity=timedelta(days=services.settings.device_cert_days),
    )
    return DeviceEnrolOut(
        device_id=device_id,
        certificate_pem=issued.certificate_pem,
        chain_pem=issued.chain_pem,
        not_after=issued.certificate.not_valid_after_utc,
    )


@router.get("/trust/crl", tags=["public"], response_class=Response)
def certificate_revocation_list(
    caller: PublicCaller,
    request: Request,
    ca: Literal["device", "service"] = Query(default="device"),
    format: Literal["der", "pem"] | None = Query(default=None),
) -> Response:
    """Public: the CRL signed by the device CA (default) or the service CA.

    DER (``application/pkix-crl``) unless ``?format=pem`` or ``Accept: application/x-pem-file``.
    """
    services = _services(request)
    crl = services.keys.published_crl(f"{ca}-ca", now=services.clock())
    accept = request.headers.get("accept", "")
    as_pem = format == "pem" or (format is None and "pem" in accept)
    if as_pem:
        return Response(
            content=crl.public_bytes(serialization.Encoding.PEM),
            media_type="application/x-pem-file",
        )
    return Response(
        content=crl.public_bytes(serialization.Encoding.DER), media_type="application/pkix-crl"
    )


@router.get("/trust/c2pa-anchors", tags=["public"], response_class=Response)
def c2pa_trust_anchors(caller: PublicCaller, request: Request) -> Response:
    """Public: the anchors to give a C2PA validator for OrderSeal evidence (PEM).

    Our service CAs (current and retired) and any TSA root, never the root that also issues
    device certificates: a claim signed by a device key must not read ``Trusted``. Same bytes
    as ``anchors.pem`` from ``orderseal keys export-trust``.
    """
    pem = claim_signing_trust(_services(request).keys).pem
    return Response(content=pem, media_type="application/x-pem-file")


@router.get("/trust/c2pa-settings", tags=["public"])
def c2pa_trust_settings(caller: PublicCaller, request: Request) -> dict[str, object]:
    """Public: c2pa-rs settings (JSON) that verify OrderSeal evidence offline.

    Load as-is into c2patool ``--settings`` or a c2pa SDK ``Context``; the same document as
    ``c2pa-settings.json`` from ``orderseal keys export-trust``.
    """
    return c2pa_settings(claim_signing_trust(_services(request).keys).pem)
