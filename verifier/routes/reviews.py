"""Review image routes (issue 19 §3): the platform asks about an image a review shows; a seller
asks whether a counter-image against a review counts.

Both take the image as the raw body, bounded by the photo limit, after the caller's key is
checked (the role dependency runs before the query is parsed or a byte is read), and answer
with ``verifier.reviews``' typed models. The seller's order is checked before the body too.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from evidence.media import SUPPORTED_MEDIA_TYPES
from infra.auth import AuthError, MerchantPrincipal, PlatformPrincipal, Principal
from infra.json_body import BoundedJSONRoute
from infra.offload import run_heavy
from infra.openapi import raw_body_openapi
from infra.ratelimit import enforce
from infra.uploads import receive_body
from verifier.facts import AttachedFile
from verifier.reviews import CounterImageOut, ReviewImageOut, ReviewImageQuery
from verifier.routes.deps import Edge, Reviews

__all__ = ["router"]

router = APIRouter(prefix="/v1", route_class=BoundedJSONRoute)
#: Any file a review shows is judged (its type is sniffed from the bytes); photo-sized only.
_IMAGE_BODY = raw_body_openapi(
    SUPPORTED_MEDIA_TYPES,
    description="The image, as the raw body (streamed, at most ORDERSEAL_MAX_PHOTO_BYTES).",
    refuses_multipart=True,
)


def _merchant(principal: Principal) -> str:
    if principal.merchant_id is None:
        raise AuthError("expected a merchant key naming its merchant", code="credentials_invalid")
    return principal.merchant_id


@router.put("/platform/review-images", tags=["platform"], openapi_extra=_IMAGE_BODY)
async def check_review_image(
    principal: PlatformPrincipal,
    request: Request,
    query: Annotated[ReviewImageQuery, Query()],
    reviews: Reviews,
    edge: Edge,
) -> ReviewImageOut:
    """Is this image (shown in a review by ``buyer_id`` of ``order_id``) sealed review evidence?

    ``answer`` is ``review_sealed``, ``manifest_recovered`` (a stripped copy of one, with the
    original), ``evidence_reused``, ``order_mismatch``, ``buyer_mismatch``, ``wrong_stage``,
    ``untrusted_signer``, ``no_manifest`` or ``not_verified`` (docs/reason-codes.md, "Review
    images"). The body is at most ``ORDERSEAL_MAX_PHOTO_BYTES`` (413 above).
    """
    enforce(request, "uploads", principal)
    received = await receive_body(request, edge.work_dir, max_bytes=edge.settings.max_photo_bytes)
    try:
        return await run_heavy(
            request,
            reviews.review_image,
            AttachedFile(received.path, "review-image", received.sha256),
            query,
            now=edge.clock(),
        )
    finally:
        received.path.unlink(missing_ok=True)


@router.put(
    "/merchant/orders/{order_id}/counter-images", tags=["merchant"], openapi_extra=_IMAGE_BODY
)
async def check_counter_image(
    order_id: str,
    principal: MerchantPrincipal,
    request: Request,
    reviews: Reviews,
    edge: Edge,
) -> CounterImageOut:
    """Does this image count against a review of the merchant's order?

    Only sealed packing-station evidence of this very order counts (``counter_sealed``,
    ``counts: true``); a generated picture is ``no_manifest``, another order's station photo
    ``order_mismatch``, a buyer's photo ``wrong_stage``. Another merchant's order is ``404
    order_unknown``, before the body is read.
    """
    merchant_id = _merchant(principal)
    enforce(request, "uploads", principal)
    reviews.merchant_order(merchant_id, order_id)
    received = await receive_body(request, edge.work_dir, max_bytes=edge.settings.max_photo_bytes)
    try:
        return await run_heavy(
            request,
            reviews.counter_image,
            AttachedFile(received.path, "counter-image", received.sha256),
            merchant_id=merchant_id,
            order_id=order_id,
            now=edge.clock(),
        )
    finally:
        received.path.unlink(missing_ok=True)
