"""The agents' workspace routes (the one-screen document, the submitted files, decisions,
assignment) and the platform's signed report links with their public ``/r/{token}`` page.

Every handler calls one service; the services are built here per request over the app's
``VerifierContext``, so nothing is built at import time.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from evidence.media import SUPPORTED_MEDIA_TYPES
from infra.auth import AgentPrincipal, PlatformPrincipal, PublicCaller
from infra.errors import NotFoundError
from infra.json_body import MAX_JSON_BYTES, TOO_LARGE, BoundedJSONRoute
from infra.ledger.agent_work import AgentWork
from infra.openapi import file_responses
from infra.web import PAGE_HEADERS
from verifier.agent_decisions import AgentDecisionService
from verifier.agent_schemas import (
    AgentDecisionIn,
    AgentDecisionOut,
    AgentQueueFilters,
    AssignmentIn,
    AssignmentOut,
    ReportLinkIn,
    ReportLinkOut,
    ReportLinkRevokedOut,
    WorkspaceOut,
)
from verifier.context import VerifierContext
from verifier.queue import AgentQueue
from verifier.report import AgentReport, render_report_html
from verifier.report_links import ReportLinkService
from verifier.routes.deps import Edge, Reports
from verifier.schemas import DisputeListOut
from verifier.workspace import WorkspaceService

__all__ = ["INLINE_MEDIA_TYPES", "MAX_JSON_BYTES", "REPORT_LINK_HEADERS", "router"]

router = APIRouter()
#: The routes that take a JSON body (decisions, assignment, report links): bounded.
_json = APIRouter(route_class=BoundedJSONRoute)
_TOO_LARGE = TOO_LARGE

#: Types our capture produces: shown inline; anything else the buyer sent is a download.
INLINE_MEDIA_TYPES = frozenset({"image/jpeg", "image/png", "video/mp4", "video/webm"})
#: The shared report page: never cached or indexed, no referrer leaves it (the URL is the key).
REPORT_LINK_HEADERS = PAGE_HEADERS | {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow, noarchive",
}
_SHA256 = Path(pattern="^[0-9a-f]{64}$")


def _context(request: Request) -> VerifierContext:
    context: VerifierContext = request.app.state.services
    return context


def _work(context: VerifierContext) -> AgentWork:
    work: AgentWork = context.ledger.agent_work
    return work


async def _decisions(request: Request) -> AgentDecisionService:
    context = _context(request)
    return AgentDecisionService(disputes=context.verifier, work=_work(context))


async def _queue(request: Request) -> AgentQueue:
    context = _context(request)
    return AgentQueue(disputes=context.verifier, work=_work(context))


async def _workspace(request: Request) -> WorkspaceService:
    context = _context(request)
    return WorkspaceService(
        disputes=context.verifier,
        work=_work(context),
        merchant_responses=context.ledger.merchant_responses,
    )


async def _links(request: Request) -> ReportLinkService:
    context = _context(request)
    return ReportLinkService(disputes=context.verifier, work=_work(context))


Decisions = Annotated[AgentDecisionService, Depends(_decisions)]
Queue = Annotated[AgentQueue, Depends(_queue)]
Workspaces = Annotated[WorkspaceService, Depends(_workspace)]
Links = Annotated[ReportLinkService, Depends(_links)]


@router.get("/v1/disputes", tags=["agent"])
def list_disputes(
    principal: AgentPrincipal,
    queue: Queue,
    filters: Annotated[AgentQueueFilters, Query()],
) -> DisputeListOut:
    """Disputes for agents, newest filing first, one page per call.

    Filters: ``decision``, ``reason``, ``since``/``until`` (filing dates), ``assigned``
    (``me``, ``none`` or an agent's subject), ``order_id``, ``buyer_id``, ``merchant_id`` (the
    seller of the disputed order); all applied before
    ``limit``. "My queue" is ``assigned=me&decision=review``. Pass ``next_cursor`` back as
    ``cursor`` with the same filters for the next page (``422 cursor_invalid`` otherwise); an
    unknown parameter is ``422 invalid_request``.
    """
    return queue.page(filters, caller=principal.subject)


@router.get("/v1/disputes/{dispute_id}/workspace", tags=["agent"])
def workspace(dispute_id: str, principal: AgentPrincipal, workspaces: Workspaces) -> WorkspaceOut:
    """Everything the agent's one screen shows about a dispute, in one document.

    Checks in plain words (the reason code apart, only on a failed check), the policy trace,
    the submitted files and the order's sealed originals (with their URLs), the timeline,
    related disputes, agents' decisions and merchants' responses. Each list is bounded.
    """
    return workspaces.workspace(dispute_id)


@router.get(
    "/v1/disputes/{dispute_id}/submitted/{content_sha256}",
    tags=["agent"],
    response_class=StreamingResponse,
    responses=file_responses(
        *sorted(SUPPORTED_MEDIA_TYPES), "application/octet-stream", description="The file"
    ),
)
def submitted_file(
    dispute_id: str,
    content_sha256: Annotated[str, _SHA256],
    principal: AgentPrincipal,
    workspaces: Workspaces,
) -> StreamingResponse:
    """The bytes the platform attached to the dispute (what the buyer sent), streamed.

    A file in a type our capture produces is ``inline``; any other is a download
    (``application/octet-stream`` when its type is not one we recognise). Always ``nosniff``.
    """
    row = workspaces.work.attachment(dispute_id, content_sha256)
    if row is None:
        workspaces.disputes.dispute(dispute_id)  # dispute_not_found first
        raise NotFoundError(
            "no file with this SHA-256 is attached to the dispute", code="attachment_not_found"
        )
    media_type = row.media_type if row.media_type in SUPPORTED_MEDIA_TYPES else None
    inline = media_type in INLINE_MEDIA_TYPES
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": "inline"
        if inline
        else f'attachment; filename="{content_sha256[:16]}.bin"',
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, no-store",
    }
    return StreamingResponse(
        workspaces.disputes.store.iter_bytes(row.storage_key),
        media_type=media_type or "application/octet-stream",
        headers=headers,
    )


@_json.post(
    "/v1/disputes/{dispute_id}/agent-decision",
    status_code=201,
    tags=["agent"],
    responses=_TOO_LARGE,
)
def agent_decision(
    dispute_id: str,
    body: AgentDecisionIn,
    principal: AgentPrincipal,
    request: Request,
    decisions: Decisions,
    edge: Edge,
) -> AgentDecisionOut:
    """Approve (allow), deny (block) or ask for more evidence (stays review) on a ``review``.

    The note is required (1..2000 characters). The decision is signed into the audit chain
    with the agent's key subject and id, appears in the dispute's history
    (``change_reason`` ``agent_decision``) and sends ``dispute.decision_changed``. A dispute
    whose decision is not ``review`` is ``409 dispute_not_in_review``.
    """
    key_id = str(getattr(request.state, "api_key_id", ""))
    return decisions.decide(
        dispute_id, body, agent=principal.subject, key_id=key_id, now=edge.clock()
    )


@_json.post("/v1/disputes/{dispute_id}/assignment", tags=["agent"], responses=_TOO_LARGE)
def assign_dispute(
    dispute_id: str, body: AssignmentIn, principal: AgentPrincipal, queue: Queue, edge: Edge
) -> AssignmentOut:
    """Assign the dispute to ``me``, to another agent (its key subject) or to nobody (null).

    A subject with no usable agent key is ``422 agent_unknown``.
    """
    return queue.assign(dispute_id, body, caller=principal.subject, now=edge.clock())


@_json.post(
    "/v1/disputes/{dispute_id}/report-links",
    status_code=201,
    tags=["platform"],
    responses=_TOO_LARGE,
)
def create_report_link(
    dispute_id: str,
    principal: PlatformPrincipal,
    links: Links,
    edge: Edge,
    body: Annotated[ReportLinkIn | None, Body()] = None,
) -> ReportLinkOut:
    """A short-lived read-only link to the dispute's report that opens without a header.

    ``ttl_seconds`` 60..86400 (3600 when omitted). The URL is shown once (only its hash is
    kept); it belongs to the calling platform subject, who alone can revoke it.
    """
    ttl = (body or ReportLinkIn()).ttl_seconds
    return links.create(dispute_id, ttl_seconds=ttl, owner=principal.subject, now=edge.clock())


@router.delete("/v1/report-links/{link_id}", tags=["platform"])
def revoke_report_link(
    link_id: str, principal: PlatformPrincipal, links: Links, edge: Edge
) -> ReportLinkRevokedOut:
    """Revoke one of your report links; another subject's link is ``404`` like a missing one."""
    return links.revoke(link_id, owner=principal.subject, now=edge.clock())


@router.get("/r/{token}", tags=["public"], response_class=HTMLResponse)
def shared_report(
    token: str, caller: PublicCaller, links: Links, reports: Reports, edge: Edge
) -> HTMLResponse:
    """The read-only report of the one dispute the link names (the token is the credential),
    in the platform's view (no agent-only details).

    Unknown, altered, expired and revoked links all answer ``404 report_link_invalid``.
    """
    dispute_id = links.resolve(token, now=edge.clock())
    return HTMLResponse(
        render_report_html(_platform_view(reports.report(dispute_id))),
        headers=REPORT_LINK_HEADERS,
    )


def _platform_view(report: AgentReport) -> AgentReport:
    """The report as the platform may read it: a platform key makes the link, so the page
    leaves out the agent-only details (other disputes and accounts) its API leaves out too."""
    return replace(
        report,
        verdict=report.verdict.platform_view() if report.verdict else None,
        history=tuple(entry.platform_view() for entry in report.history),
    )


router.include_router(_json)
