"""Published trust routes (public): PKI anchors, the label chain, CRLs, C2PA trust settings."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Request, Response

from capture.routes.deps import Clock, Trust
from infra.auth import PublicCaller
from infra.json_body import BoundedJSONRoute
from infra.openapi import file_responses

__all__ = ["router"]

router = APIRouter(prefix="/v1", route_class=BoundedJSONRoute)
#: DER by default, PEM on request.
_CRL = file_responses("application/pkix-crl", "application/x-pem-file", description="The CRL")


@router.get(
    "/trust/anchors",
    tags=["public"],
    response_class=Response,
    responses=file_responses("application/x-pem-file", description="PEM certificates", text=True),
)
def trust_anchors(caller: PublicCaller, trust: Trust) -> Response:
    """Public: the PKI root(s) (PEM) that device, label and sealing certificates chain to.

    Not the anchors for C2PA validators: they get ``/v1/trust/c2pa-anchors`` (the Service CAs),
    so that no claim signed under the Device CA reads as trusted.
    """
    return Response(content=trust.anchors_pem(), media_type="application/x-pem-file")


@router.get(
    "/trust/label-certificates",
    tags=["public"],
    response_class=Response,
    responses=file_responses(
        "application/x-pem-file", description="PEM certificates, leaf first", text=True
    ),
)
def label_certificates(caller: PublicCaller, trust: Trust) -> Response:
    """Public: the certificate chain that signs parcel-label tokens (leaf first, PEM).

    A buyer app or a carrier fetches it once, checks it chains to ``/v1/trust/anchors`` and
    then verifies label tokens offline (ES256 over ``OS1.<payload>``).
    """
    return Response(content=trust.label_certificates_pem(), media_type="application/x-pem-file")


@router.get(
    "/trust/crl",
    tags=["public"],
    response_class=Response,
    responses=_CRL,
)
def certificate_revocation_list(
    caller: PublicCaller,
    request: Request,
    trust: Trust,
    clock: Clock,
    ca: Literal["device", "service"] = Query(default="device"),
    format: Literal["der", "pem"] | None = Query(default=None),
) -> Response:
    """Public: the CRL signed by the device CA (default) or the service CA.

    DER (``application/pkix-crl``) unless ``?format=pem`` or ``Accept: application/x-pem-file``.
    """
    accept = request.headers.get("accept", "")
    as_pem = format == "pem" or (format is None and "pem" in accept)
    content = trust.crl(ca, now=clock(), pem=as_pem)
    media_type = "application/x-pem-file" if as_pem else "application/pkix-crl"
    return Response(content=content, media_type=media_type)


@router.get(
    "/trust/c2pa-anchors",
    tags=["public"],
    response_class=Response,
    responses=file_responses("application/x-pem-file", description="PEM certificates", text=True),
)
def c2pa_trust_anchors(caller: PublicCaller, trust: Trust) -> Response:
    """Public: the anchors to give a C2PA validator for OrderSeal evidence (PEM).

    Our service CAs (current and retired) and any TSA root, never the root that also issues
    device certificates: a claim signed by a device key must not read ``Trusted``. Same bytes
    as ``anchors.pem`` from ``orderseal keys export-trust``.
    """
    return Response(content=trust.c2pa_anchors_pem(), media_type="application/x-pem-file")


@router.get("/trust/c2pa-settings", tags=["public"])
def c2pa_trust_settings(caller: PublicCaller, trust: Trust) -> dict[str, object]:
    """Public: c2pa-rs settings (JSON) that verify OrderSeal evidence offline.

    Load as-is into c2patool ``--settings`` or a c2pa SDK ``Context``; the same document as
    ``c2pa-settings.json`` from ``orderseal keys export-trust``.
    """
    return trust.c2pa_settings()
