"""Merchant routes on the dispute side (``/v1/merchant/disputes...``): the disputes on the
merchant's own orders, what the buyer submitted, and the merchant's responses.

Each handler authenticates the ``merchant`` key first and passes only the key's merchant id
to the service, whose ledger reads are scoped by it: another merchant's dispute is answered
``404 dispute_not_found``, exactly as one that does not exist.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import StreamingResponse

from evidence.media import SUPPORTED_MEDIA_TYPES
from infra.auth import AuthError, MerchantPrincipal, Principal
from infra.json_body import TOO_LARGE, bounded_json_route
from infra.openapi import file_responses
from infra.ratelimit import enforce
from verifier.merchant_schemas import (
    MerchantDisputeFilters,
    MerchantDisputeListOut,
    MerchantDisputeOut,
    MerchantResponseIn,
    MerchantResponseOut,
)
from verifier.routes.deps import Edge, MerchantViews

__all__ = ["router"]

#: Bodies read with a size limit before parsing: 64 KiB holds the largest valid response
#: (4000 characters, each escaped as a 12-byte surrogate pair, and 20 evidence ids).
router = APIRouter(prefix="/v1/merchant", route_class=bounded_json_route(64 * 1024))
#: A buyer's file is whatever the buyer sent: served as a download in a sandbox, never as a page.
_BUYER_FILE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, no-store",
}


def _merchant(principal: Principal) -> str:
    if principal.merchant_id is None:
        raise AuthError("expected a merchant key naming its merchant", code="credentials_invalid")
    return principal.merchant_id


@router.get("/disputes", tags=["merchant"])
def merchant_disputes(
    principal: MerchantPrincipal,
    views: MerchantViews,
    filters: Annotated[MerchantDisputeFilters, Query()],
) -> MerchantDisputeListOut:
    """The disputes on the merchant's orders, oldest change first, one page per call.

    Filters (``decision``, ``reason``, ``order_id``, ``updated_since``) apply before ``limit``
    (1-200); pass ``next_cursor`` back as ``cursor`` with the same filters for the next page.
    Each row says whose side the verdict points to (``attribution``).
    """
    return views.page(_merchant(principal), filters)


@router.get("/disputes/{dispute_id}", tags=["merchant"])
def merchant_dispute(
    dispute_id: str, principal: MerchantPrincipal, views: MerchantViews
) -> MerchantDisputeOut:
    """One dispute: verdict and reasons, the order's sealed packing photos and video beside the
    files the buyer submitted, and the merchant's responses."""
    return views.detail(_merchant(principal), dispute_id)


@router.get(
    "/disputes/{dispute_id}/files/{content_sha256}",
    tags=["merchant"],
    response_class=StreamingResponse,
    responses=file_responses(
        *sorted(SUPPORTED_MEDIA_TYPES),
        "application/octet-stream",
        description="A file the buyer submitted (without buyer-identifying metadata)",
    ),
)
def merchant_buyer_file(
    dispute_id: str,
    content_sha256: Annotated[str, Path(pattern="^[0-9a-f]{64}$")],
    principal: MerchantPrincipal,
    views: MerchantViews,
) -> StreamingResponse:
    """A file the buyer submitted (streamed; bounded by the upload limit it passed).

    Unless merchants are shown buyer ids (``ORDERSEAL_MERCHANT_BUYER_IDENTITY=full``), the
    file comes without what would identify the buyer across merchants: the C2PA manifest (it
    names the buyer's device and carries its certificate), EXIF, XMP and text chunks. The
    pictures are unchanged; the bytes, so the SHA-256, differ from ``content_sha256``. A file
    whose Content Credentials cannot be cut out (damaged on its way, or of another type) is
    ``403 buyer_file_withheld``; agents still see it.

    Served as an attachment with ``nosniff`` and a sandboxing CSP, in its sniffed media type
    only when that is a photo or video type (``application/octet-stream`` otherwise), so a
    buyer's HTML or SVG never runs in the merchant's browser.
    """
    row, chunks = views.buyer_file(_merchant(principal), dispute_id, content_sha256)
    media_type = (
        row.media_type if row.media_type in SUPPORTED_MEDIA_TYPES else "application/octet-stream"
    )
    headers = {
        **_BUYER_FILE_HEADERS,
        "Content-Disposition": f'attachment; filename="{content_sha256}"',
    }
    return StreamingResponse(chunks, media_type=media_type, headers=headers)


@router.post(
    "/disputes/{dispute_id}/responses", status_code=201, tags=["merchant"], responses=TOO_LARGE
)
def merchant_respond(
    dispute_id: str,
    body: MerchantResponseIn,
    principal: MerchantPrincipal,
    request: Request,
    views: MerchantViews,
    edge: Edge,
) -> MerchantResponseOut:
    """Answer a dispute on the merchant's order: a statement (1-4000 characters) and up to 20
    sealed evidence ids of this order (``422 response_evidence_invalid`` for any other).

    A body over 64 KiB is ``413 payload_too_large``, refused before it is read whole."""
    enforce(request, "disputes", principal)
    return views.respond(
        _merchant(principal), dispute_id, body, by=principal.subject, now=edge.clock()
    )
