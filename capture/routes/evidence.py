"""Evidence file routes: sealed files and thumbnails for agents, a buyer's own sealed file."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import StreamingResponse

from capture.routes.deps import Files
from evidence.media import SUPPORTED_MEDIA_TYPES
from infra.auth import AgentPrincipal, BuyerPrincipal
from infra.json_body import BoundedJSONRoute
from infra.openapi import file_responses

__all__ = ["router"]

router = APIRouter(prefix="/v1", route_class=BoundedJSONRoute)
#: A sealed capture, in the media type it was sealed in.
_SEALED_FILE = file_responses(*sorted(SUPPORTED_MEDIA_TYPES), description="The sealed file")


@router.get(
    "/receipt-sessions/{session_id}/evidence/{evidence_id}/file",
    tags=["buyer"],
    response_class=StreamingResponse,
    responses=_SEALED_FILE,
)
def receipt_evidence_file(
    session_id: str, evidence_id: str, principal: BuyerPrincipal, files: Files
) -> StreamingResponse:
    """The buyer's own sealed capture, to keep or attach to a claim."""
    row = files.buyer_evidence(session_id, evidence_id, buyer_id=principal.subject)
    return StreamingResponse(files.chunks(row), media_type=row.media_type)


@router.get(
    "/evidence/{evidence_id}/file",
    tags=["agent"],
    response_class=StreamingResponse,
    responses=_SEALED_FILE,
)
def evidence_file(evidence_id: str, principal: AgentPrincipal, files: Files) -> StreamingResponse:
    """Download sealed evidence (streams; never loaded whole)."""
    row = files.evidence(evidence_id)
    return StreamingResponse(files.chunks(row), media_type=row.media_type)


@router.get(
    "/evidence/{evidence_id}/thumbnail.jpg",
    tags=["agent"],
    response_class=Response,
    responses=file_responses("image/jpeg", description="The thumbnail (JPEG)"),
)
def evidence_thumbnail(evidence_id: str, principal: AgentPrincipal, files: Files) -> Response:
    """A thumbnail (photo) or poster frame (video) for the agent report."""
    return Response(
        content=files.thumbnail(evidence_id),
        media_type="image/jpeg",
        headers={"Cache-Control": "private, max-age=3600"},
    )
