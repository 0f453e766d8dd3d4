"""The public verify page (no login): the upload form and the check behind it."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from evidence.media import SUPPORTED_MEDIA_TYPES
from infra.auth import PublicCaller
from infra.json_body import BoundedJSONRoute
from infra.offload import run_heavy
from infra.openapi import raw_body_openapi
from infra.uploads import receive_body
from infra.web import PAGE_HEADERS
from verifier.facts import AttachedFile
from verifier.public import PublicVerifyOut
from verifier.routes.deps import Edge, Public

__all__ = ["router"]

router = APIRouter(route_class=BoundedJSONRoute)
_PAGE = Path(__file__).parent.parent / "templates" / "verify.html"


@router.get("/verify", tags=["public"], response_class=HTMLResponse)
def verify_page(caller: PublicCaller) -> HTMLResponse:
    """Upload form (no login)."""
    return HTMLResponse(_PAGE.read_text(), headers=PAGE_HEADERS)


@router.post(
    "/verify",
    tags=["public"],
    openapi_extra=raw_body_openapi(
        SUPPORTED_MEDIA_TYPES, description="The file to check.", refuses_multipart=True
    ),
)
async def verify_upload(
    caller: PublicCaller, request: Request, public: Public, edge: Edge
) -> PublicVerifyOut:
    """Check an uploaded file (raw body, streamed, size-limited)."""
    received = await receive_body(
        request, edge.work_dir, max_bytes=edge.settings.public_verify_max_bytes, public=True
    )
    try:
        return await run_heavy(
            request,
            public.examine,
            AttachedFile(received.path, "upload", received.sha256),
            now=edge.clock(),
        )
    finally:
        received.path.unlink(missing_ok=True)
