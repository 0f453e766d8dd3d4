"""Capture routes: orders (platform), device enrolment (admin), shipment sessions (station),
receipt sessions (buyer), labels and QR checks. Handlers only translate HTTP to services.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from capture.auth import CONTENT_SHA256_HEADER
from capture.context import CaptureContext
from capture.errors import CaptureError, TokenError
from capture.qr import LABEL_DPIS, render_label_pdf, render_label_png
from capture.schemas import (
    BuyerTokenIn,
    BuyerTokenOut,
    DeviceEnrolIn,
    DeviceEnrolOut,
    EvidenceOut,
    LabelOut,
    OrderIn,
    OrderOut,
    OrderReopenOut,
    QRCheckIn,
    QRCheckOut,
    ReceiptSessionIn,
    SessionOut,
    ShipmentSessionIn,
)
from capture.service import DeviceIdentity, OrderItem, SealedEvidence
from capture.tokens import issue_buyer_token, verify_label_token
from capture.transcode import TRANSCODED_MEDIA_TYPES
from evidence.media import sniff_media_type
from evidence.thumbnails import make_thumbnail
from infra.auth import (
    AdminPrincipal,
    AgentPrincipal,
    AuthError,
    BuyerPrincipal,
    PlatformPrincipal,
    Principal,
    PublicCaller,
    StationPrincipal,
    streams_body,
)
from infra.errors import NotFoundError
from infra.ledger.models import CaptureSession, Device
from infra.names import check_client_name
from infra.offload import run_heavy, run_transcode
from infra.ratelimit import RateLimitedError, enforce
from infra.uploads import receive_body
from keys.attestation import b64url_decode
from keys.enroll import certificate_from_csr
from keys.trust import certificates_to_pem

__all__ = ["router"]

router = APIRouter(prefix="/v1")


def _services(request: Request) -> CaptureContext:
    services: CaptureContext = request.app.state.services
    return services


def _session_out(row: CaptureSession) -> SessionOut:
    return SessionOut(
        session_id=row.session_id, order_id=row.order_id, stage=row.stage, expires_at=row.expires_at
    )


def _evidence_out(sealed: SealedEvidence) -> EvidenceOut:
    return EvidenceOut(**sealed.__dict__)


@router.post("/orders", status_code=201, tags=["platform"])
def register_order(body: OrderIn, principal: PlatformPrincipal, request: Request) -> OrderOut:
    """Register an order before it is packed."""
    services = _services(request)
    order = services.capture.register_order(
        order_id=body.order_id,
        buyer_id=body.buyer_id,
        items=[OrderItem(i.sku, i.quantity, tuple(i.serials)) for i in body.items],
        declared_value=body.declared_value,
        currency=body.currency,
        carrier=body.carrier,
        tracking_number=body.tracking_number,
        expected_delivery=body.expected_delivery,
        now=services.clock(),
    )
    return OrderOut(
        order_id=order.order_id,
        buyer_id=order.buyer_id,
        declared_value=order.declared_value,
        currency=order.currency,
        created_at=order.created_at,
    )


@router.post("/orders/{order_id}/reopen", tags=["platform"])
def reopen_order(order_id: str, principal: PlatformPrincipal, request: Request) -> OrderReopenOut:
    """Reopen a packed order so a station can open a new shipment session for it.

    Without this, ``POST /v1/shipment-sessions`` on a packed order answers
    ``409 order_already_packed``. The released sessions record who reopened and when.
    """
    services = _services(request)
    reopened = services.capture.reopen_order(order_id, by=principal.subject, now=services.clock())
    return OrderReopenOut(
        order_id=reopened.order_id,
        reopened_by=reopened.reopened_by,
        reopened_at=reopened.reopened_at,
        released_session_ids=list(reopened.released_session_ids),
    )


@router.post("/buyer-tokens", status_code=201, tags=["platform"])
def buyer_token(
    body: BuyerTokenIn, principal: PlatformPrincipal, request: Request
) -> BuyerTokenOut:
    """Issue a short-lived token the buyer's app presents to the capture service."""
    services = _services(request)
    ttl = timedelta(minutes=services.settings.buyer_token_minutes)
    token = issue_buyer_token(
        services.token_secret, buyer_id=body.buyer_id, now=services.clock(), ttl=ttl
    )
    return BuyerTokenOut(token=token, expires_in_seconds=int(ttl.total_seconds()))


@router.post("/devices", status_code=201, tags=["admin"])
def enrol_device(
    body: DeviceEnrolIn, principal: AdminPrincipal, request: Request
) -> DeviceEnrolOut:
    """Approve a device's CSR: the device keeps its key, we issue a short-lived leaf."""
    services = _services(request)
    now = services.clock()
    device_ca = services.keys.load_ca("device-ca")
    certificate = certificate_from_csr(
        device_ca,
        body.csr_pem.encode(),
        device_id=body.device_id,
        kind=body.kind,
        now=now,
        validity=timedelta(days=services.settings.device_cert_days),
    )
    services.ledger.add_device(
        Device(
            device_id=body.device_id,
            kind=body.kind,
            owner_id=body.owner_id,
            certificate_pem=certificates_to_pem((certificate,)),
            serial_hex=format(certificate.serial_number, "x"),
            not_after=certificate.not_valid_after_utc,
            enrolled_at=now,
            revoked_at=None,
            revoke_reason=None,
        )
    )
    return DeviceEnrolOut(
        device_id=body.device_id,
        certificate_pem=certificates_to_pem((certificate,)),
        chain_pem=certificates_to_pem(device_ca.chain_to_root),
        not_after=certificate.not_valid_after_utc,
    )


@router.post("/shipment-sessions", status_code=201, tags=["station"])
def open_shipment_session(
    body: ShipmentSessionIn, principal: StationPrincipal, request: Request
) -> SessionOut:
    """A station scanned an order: open its packing session (``409 order_already_packed``
    once a session of the order has closed, until the platform reopens the order)."""
    enforce(request, "sessions", principal)
    services = _services(request)
    device: DeviceIdentity = request.state.device
    row = services.capture.open_shipment_session(device, body.order_id, now=services.clock())
    return _session_out(row)


async def _upload(
    request: Request,
    session_id: str,
    device: DeviceIdentity,
    buyer_id: str | None,
    statement: str,
    statement_signature: str,
    title: str,
    idempotency_key: str | None,
    declared_sha256: str | None,
    serials: list[str] | None = None,
    *,
    principal: Principal,
) -> EvidenceOut:
    services = _services(request)
    try:
        statement_json = b64url_decode(statement).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise CaptureError(
            "expected a base64url capture statement", code="attestation_malformed"
        ) from exc
    if idempotency_key is not None and len(idempotency_key) > 128:
        raise CaptureError("expected an Idempotency-Key of at most 128 characters")
    title = check_client_name(title, what="title")
    received = await receive_body(
        request, services.work_dir, max_bytes=services.settings.max_video_bytes
    )
    if declared_sha256 is not None and declared_sha256 != received.sha256:
        received.path.unlink(missing_ok=True)
        raise AuthError(
            "the body does not match the signed content hash", code="credentials_forged"
        )
    if sniff_media_type(received.path) in TRANSCODED_MEDIA_TYPES:
        # A WebM is converted first, on its own smaller thread limit and its own rate limit,
        # so conversions never hold the slots that station seals use (issue 14, item 1).
        try:
            enforce(request, "transcodes", principal)
        except RateLimitedError:
            received.path.unlink(missing_ok=True)
            raise
        received = await run_transcode(
            request,
            services.capture.transcode_upload,
            session_id=session_id,
            device=device,
            buyer_id=buyer_id,
            received=received,
            statement_json=statement_json,
            statement_signature=statement_signature,
            idempotency_key=idempotency_key,
            now=services.clock(),
        )
    # Sealing is CPU and disk work; a worker thread keeps the event loop receiving others.
    sealed = await run_heavy(
        request,
        services.capture.seal_upload,
        session_id=session_id,
        device=device,
        buyer_id=buyer_id,
        received=received,
        statement_json=statement_json,
        statement_signature=statement_signature,
        title=title,
        idempotency_key=idempotency_key,
        now=services.clock(),
        serials=tuple(serials or ()),
    )
    if not sealed.replayed:
        request.app.state.metrics.seals.labels(sealed.stage, sealed.media_type).inc()
    return _evidence_out(sealed)


@router.put("/shipment-sessions/{session_id}/evidence", status_code=201, tags=["station"])
@streams_body
async def upload_shipment_evidence(
    session_id: str,
    principal: StationPrincipal,
    request: Request,
    x_orderseal_statement: Annotated[str, Header(max_length=4096)],
    x_orderseal_statement_signature: Annotated[str, Header(max_length=512)],
    x_orderseal_content_sha256: Annotated[str, Header(pattern=r"^[0-9a-f]{64}$")],
    x_orderseal_title: Annotated[str, Header(max_length=200)] = "",
    idempotency_key: Annotated[str | None, Header()] = None,
    serial: Annotated[list[str] | None, Query()] = None,
) -> EvidenceOut:
    """Stream one photo or video (raw body) into the station's own session and seal it.

    ``?serial=`` (repeatable) names the unit serials the station scanned for this capture;
    they are part of the signed request path and must be serials of the order.
    """
    enforce(request, "uploads", principal)
    return await _upload(
        request,
        session_id,
        request.state.device,
        None,
        x_orderseal_statement,
        x_orderseal_statement_signature,
        x_orderseal_title,
        idempotency_key,
        x_orderseal_content_sha256,
        serial,
        principal=principal,
    )


@router.post("/shipment-sessions/{session_id}/close", tags=["station"])
def close_shipment_session(
    session_id: str, principal: StationPrincipal, request: Request
) -> LabelOut:
    """Finish packing: returns the parcel label's signed token."""
    services = _services(request)
    token = services.capture.close_shipment_session(
        request.state.device, session_id, now=services.clock()
    )
    order_id = verify_label_token(
        token, services.capture.sealer.signer.certificate_chain[:1], now=services.clock()
    ).order_id
    return LabelOut(
        order_id=order_id,
        token=token,
        label_png_url=f"{services.settings.base_url}/v1/orders/{order_id}/label.png",
    )


@router.get("/orders/{order_id}/label.png", tags=["station"], response_class=Response)
def label_png(
    order_id: str, principal: StationPrincipal, request: Request, dpi: int = 203
) -> Response:
    """The 4x6 inch parcel label (203 or 300 dpi)."""
    if dpi not in (203, 300):
        raise CaptureError("expected dpi 203 or 300", code="invalid_request")
    services = _services(request)
    token = services.capture.label_token_for(
        order_id, now=services.clock(), station_id=principal.subject
    )
    png = render_label_png(token, order_id=order_id, dpi=dpi)
    return Response(content=png, media_type="image/png")


@router.get("/orders/{order_id}/label.pdf", tags=["station"], response_class=Response)
def label_pdf(
    order_id: str, principal: StationPrincipal, request: Request, dpi: int = 203
) -> Response:
    """The same 4x6 inch parcel label as a one-page PDF (203 or 300 dpi)."""
    if dpi not in LABEL_DPIS:
        raise CaptureError("expected dpi 203 or 300", code="invalid_request")
    services = _services(request)
    token = services.capture.label_token_for(
        order_id, now=services.clock(), station_id=principal.subject
    )
    pdf = render_label_pdf(token, order_id=order_id, dpi=dpi)
    return Response(content=pdf, media_type="application/pdf")


@router.post("/receipt-sessions", status_code=201, tags=["buyer"])
def open_receipt_session(
    body: ReceiptSessionIn, principal: BuyerPrincipal, request: Request
) -> SessionOut:
    """The buyer scanned the parcel label: open a short capture session for that order."""
    enforce(request, "sessions", principal)
    services = _services(request)
    row = services.capture.open_receipt_session(principal.subject, body.token, now=services.clock())
    return _session_out(row)


@router.put("/receipt-sessions/{session_id}/evidence", status_code=201, tags=["buyer"])
async def upload_receipt_evidence(
    session_id: str,
    principal: BuyerPrincipal,
    request: Request,
    x_orderseal_device: Annotated[str, Header(max_length=64)],
    x_orderseal_statement: Annotated[str, Header(max_length=4096)],
    x_orderseal_statement_signature: Annotated[str, Header(max_length=512)],
    x_orderseal_title: Annotated[str, Header(max_length=200)] = "",
    idempotency_key: Annotated[str | None, Header()] = None,
    serial: Annotated[list[str] | None, Query()] = None,
) -> EvidenceOut:
    """Stream one unboxing capture from the buyer's enrolled app into their receipt session.

    ``?serial=`` (repeatable) records the serial the buyer scanned or typed off the unit; the
    verifier compares it with the serials sealed at shipment (``serial_mismatch``).
    """
    enforce(request, "uploads", principal)
    services = _services(request)
    device = services.capture.device_identity(x_orderseal_device, now=services.clock())
    if device.kind != "buyer" or device.owner_id != principal.subject:
        raise AuthError("this app is not enrolled to you", code="wrong_device", http_status=403)
    return await _upload(
        request,
        session_id,
        device,
        principal.subject,
        x_orderseal_statement,
        x_orderseal_statement_signature,
        x_orderseal_title,
        idempotency_key,
        request.headers.get(CONTENT_SHA256_HEADER),
        serial,
        principal=principal,
    )


@router.get(
    "/receipt-sessions/{session_id}/evidence/{evidence_id}/file",
    tags=["buyer"],
    response_class=StreamingResponse,
)
def receipt_evidence_file(
    session_id: str, evidence_id: str, principal: BuyerPrincipal, request: Request
) -> StreamingResponse:
    """The buyer's own sealed capture, to keep or attach to a claim."""
    services = _services(request)
    row = services.capture.buyer_evidence(session_id, evidence_id, buyer_id=principal.subject)
    return StreamingResponse(services.store.iter_bytes(row.storage_key), media_type=row.media_type)


@router.post("/receipt-sessions/{session_id}/finish", status_code=204, tags=["buyer"])
def finish_receipt_session(session_id: str, principal: BuyerPrincipal, request: Request) -> None:
    """The buyer is done: the session closes."""
    services = _services(request)
    services.capture.finish_session(
        session_id, station_id=None, buyer_id=principal.subject, now=services.clock()
    )


@router.post("/qr/check", tags=["buyer"])
def check_qr(body: QRCheckIn, principal: BuyerPrincipal, request: Request) -> QRCheckOut:
    """Is a scanned QR an official OrderSeal label for one of this buyer's orders?"""
    services = _services(request)
    warning = (
        "This is not an official OrderSeal label for one of your orders. "
        "Do not contact anyone or pay through it."
    )
    try:
        label = services.capture.read_label(body.payload, now=services.clock())
    except TokenError:
        return QRCheckOut(official=False, order_id=None, message=warning)
    order = services.ledger.get_order(label.order_id)
    if order is None or order.buyer_id != principal.subject:
        return QRCheckOut(official=False, order_id=None, message=warning)
    return QRCheckOut(
        official=True, order_id=order.order_id, message="Official OrderSeal label for your order."
    )


@router.get("/evidence/{evidence_id}/file", tags=["agent"], response_class=StreamingResponse)
def evidence_file(
    evidence_id: str, principal: AgentPrincipal, request: Request
) -> StreamingResponse:
    """Download sealed evidence (streams; never loaded whole)."""
    services = _services(request)
    row = services.ledger.get_evidence(evidence_id)
    if row is None:
        raise NotFoundError("no such evidence", code="evidence_not_found")
    return StreamingResponse(services.store.iter_bytes(row.storage_key), media_type=row.media_type)


@router.get("/evidence/{evidence_id}/thumbnail.jpg", tags=["agent"], response_class=Response)
def evidence_thumbnail(evidence_id: str, principal: AgentPrincipal, request: Request) -> Response:
    """A thumbnail (photo) or poster frame (video) for the agent report."""
    services = _services(request)
    row = services.ledger.get_evidence(evidence_id)
    if row is None:
        raise NotFoundError("no such evidence", code="evidence_not_found")
    cache = services.settings.resolved_home / "thumbnails" / f"{row.sealed_sha256}.jpg"
    with services.store.open_local(row.storage_key) as path:
        data = make_thumbnail(path, row.media_type, cache)
    if data is None:
        raise NotFoundError("no thumbnail for this evidence", code="thumbnail_unavailable")
    return Response(
        content=data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"}
    )


@router.get("/trust/anchors", tags=["public"], response_class=Response)
def trust_anchors(caller: PublicCaller, request: Request) -> Response:
    """Public: the PKI root(s) (PEM) that device, label and sealing certificates chain to.

    Not the anchors for C2PA validators: they get ``/v1/trust/c2pa-anchors`` (the Service CAs),
    so that no claim signed under the Device CA reads as trusted.
    """
    return Response(
        content=_services(request).keys.trust_list().pem, media_type="application/x-pem-file"
    )


@router.get("/trust/label-certificates", tags=["public"], response_class=Response)
def label_certificates(caller: PublicCaller, request: Request) -> Response:
    """Public: the certificate chain that signs parcel-label tokens (leaf first, PEM).

    A buyer app or a carrier fetches it once, checks it chains to ``/v1/trust/anchors`` and
    then verifies label tokens offline (ES256 over ``OS1.<payload>``).
    """
    chain = _services(request).capture.sealer.signer.certificate_chain
    return Response(content=certificates_to_pem(tuple(chain)), media_type="application/x-pem-file")
