"""Evidence upload routes: a station's shipment capture, a buyer app's receipt capture.

The handlers stream the raw body to disk, check the declared hash, and hand the file to the
upload pipeline (:mod:`capture.uploads`, whose docstring lists its steps); a WebM is
converted first on its own thread and rate limits, sealing runs on the heavy-work threads.
"""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request

from capture.auth import CONTENT_SHA256_HEADER
from capture.devices import DeviceIdentity
from capture.errors import CaptureError
from capture.routes.deps import Clock, Uploads
from capture.schemas import EvidenceOut
from capture.transcode import TRANSCODED_MEDIA_TYPES
from capture.uploads import UploadService
from evidence.manifest import Stage
from evidence.media import SUPPORTED_MEDIA_TYPES, sniff_media_type
from infra.auth import AuthError, BuyerPrincipal, Principal, StationPrincipal, streams_body
from infra.json_body import BoundedJSONRoute
from infra.names import check_client_name
from infra.offload import run_heavy, run_transcode
from infra.openapi import raw_body_openapi
from infra.ratelimit import RateLimitedError, enforce
from infra.uploads import receive_body
from keys.attestation import b64url_decode

__all__ = ["StationCheck", "router"]

_log = logging.getLogger(__name__)
#: Station warnings an operator may override with ``--force`` (clients/station/checks.py).
StationCheck = Literal["capture_older_than_session"]

router = APIRouter(prefix="/v1", route_class=BoundedJSONRoute)
#: The capture, streamed: any type we seal, or a WebM (converted to MP4 first).
_CAPTURE_BODY = raw_body_openapi(
    SUPPORTED_MEDIA_TYPES | TRANSCODED_MEDIA_TYPES,
    description="The photo or video (raw body).",
    refuses_multipart=True,
)


async def _upload(
    request: Request,
    uploads: UploadService,
    clock: Clock,
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
    forced: list[StationCheck] | None = None,
    stage: Stage | None = None,
    max_bytes: int | None = None,
) -> EvidenceOut:
    try:
        statement_json = b64url_decode(statement).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise CaptureError(
            "expected a base64url capture statement", code="attestation_malformed"
        ) from exc
    if idempotency_key is not None and len(idempotency_key) > 128:
        raise CaptureError("expected an Idempotency-Key of at most 128 characters")
    title = check_client_name(title, what="title")
    limit = uploads.max_upload_bytes if max_bytes is None else max_bytes
    received = await receive_body(request, uploads.work_dir, max_bytes=limit)
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
            uploads.transcode_upload,
            session_id=session_id,
            device=device,
            buyer_id=buyer_id,
            received=received,
            statement_json=statement_json,
            statement_signature=statement_signature,
            idempotency_key=idempotency_key,
            now=clock(),
            stage=stage,
        )
    # Sealing is CPU and disk work; a worker thread keeps the event loop receiving others.
    sealed = await run_heavy(
        request,
        uploads.seal_upload,
        session_id=session_id,
        device=device,
        buyer_id=buyer_id,
        received=received,
        statement_json=statement_json,
        statement_signature=statement_signature,
        title=title,
        idempotency_key=idempotency_key,
        now=clock(),
        serials=tuple(serials or ()),
        stage=stage,
    )
    if not sealed.replayed:
        request.app.state.metrics.seals.labels(sealed.stage, sealed.media_type).inc()
        if forced:
            # The operator overrode a station warning: the server log says so, by evidence id.
            _log.warning(
                "station %s forced %s for %s (order %s)",
                device.device_id,
                ",".join(sorted(set(forced))),
                sealed.evidence_id,
                sealed.order_id,
            )
    return EvidenceOut(**sealed.__dict__)


@router.put(
    "/shipment-sessions/{session_id}/evidence",
    status_code=201,
    tags=["station"],
    openapi_extra=_CAPTURE_BODY,
)
@streams_body
async def upload_shipment_evidence(
    session_id: str,
    principal: StationPrincipal,
    request: Request,
    uploads: Uploads,
    clock: Clock,
    x_orderseal_statement: Annotated[str, Header(max_length=4096)],
    x_orderseal_statement_signature: Annotated[str, Header(max_length=512)],
    x_orderseal_content_sha256: Annotated[str, Header(pattern=r"^[0-9a-f]{64}$")],
    x_orderseal_title: Annotated[str, Header(max_length=200)] = "",
    idempotency_key: Annotated[str | None, Header()] = None,
    serial: Annotated[list[str] | None, Query()] = None,
    forced: Annotated[list[StationCheck] | None, Query()] = None,
) -> EvidenceOut:
    """Stream one photo or video (raw body) into the station's own session and seal it.

    ``?serial=`` (repeatable) names the unit serials the station scanned for this capture;
    they are part of the signed request path and must be serials of the order. ``?forced=``
    names a station warning the operator overrode with ``--force`` (logged with the evidence
    id; docs/capture.md, *Warnings before sealing*).
    """
    enforce(request, "uploads", principal)
    return await _upload(
        request,
        uploads,
        clock,
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
        forced=forced,
    )


@router.put(
    "/receipt-sessions/{session_id}/evidence",
    status_code=201,
    tags=["buyer"],
    openapi_extra=_CAPTURE_BODY,
)
async def upload_receipt_evidence(
    session_id: str,
    principal: BuyerPrincipal,
    request: Request,
    uploads: Uploads,
    clock: Clock,
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
    device = uploads.buyer_app(x_orderseal_device, buyer_id=principal.subject, now=clock())
    return await _upload(
        request,
        uploads,
        clock,
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
        stage=Stage.RECEIPT,  # a review session's id is not found here
    )


@router.put(
    "/review-sessions/{session_id}/evidence",
    status_code=201,
    tags=["buyer"],
    openapi_extra=raw_body_openapi(
        SUPPORTED_MEDIA_TYPES, description="The review photo (raw body).", refuses_multipart=True
    ),
)
async def upload_review_evidence(
    session_id: str,
    principal: BuyerPrincipal,
    request: Request,
    uploads: Uploads,
    clock: Clock,
    x_orderseal_device: Annotated[str, Header(max_length=64)],
    x_orderseal_statement: Annotated[str, Header(max_length=4096)],
    x_orderseal_statement_signature: Annotated[str, Header(max_length=512)],
    x_orderseal_title: Annotated[str, Header(max_length=200)] = "",
    idempotency_key: Annotated[str | None, Header()] = None,
) -> EvidenceOut:
    """Stream one review photo from the buyer's enrolled app into their review session.

    It is sealed at stage ``review`` with the buyer's receipt evidence of the order as
    ingredients; photos only (``unsupported_media``), at most ``ORDERSEAL_MAX_REVIEW_PHOTOS``
    per order (``409 review_limit_reached``), each within ``ORDERSEAL_MAX_PHOTO_BYTES``.
    """
    enforce(request, "uploads", principal)
    device = uploads.buyer_app(x_orderseal_device, buyer_id=principal.subject, now=clock())
    return await _upload(
        request,
        uploads,
        clock,
        session_id,
        device,
        principal.subject,
        x_orderseal_statement,
        x_orderseal_statement_signature,
        x_orderseal_title,
        idempotency_key,
        request.headers.get(CONTENT_SHA256_HEADER),
        principal=principal,
        stage=Stage.REVIEW,
        # Photos only: refused from the length above the photo limit, not the video one.
        max_bytes=uploads.max_photo_bytes,
    )
