"""The agent's report of a dispute: the readable page and the same data as JSON."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from infra.auth import AgentPrincipal
from infra.json_body import BoundedJSONRoute
from infra.web import PAGE_HEADERS
from verifier.report import render_report_html
from verifier.routes.deps import Disputes, Edge, Reports
from verifier.routes.disputes import dispute_out
from verifier.schemas import DisputeOut

__all__ = ["router"]

router = APIRouter(prefix="/v1", route_class=BoundedJSONRoute)


@router.get("/disputes/{dispute_id}/report", tags=["agent"], response_class=HTMLResponse)
def report(dispute_id: str, principal: AgentPrincipal, reports: Reports) -> HTMLResponse:
    """The agent's readable report."""
    return HTMLResponse(render_report_html(reports.report(dispute_id)), headers=PAGE_HEADERS)


@router.get("/disputes/{dispute_id}/report.json", tags=["agent"])
def report_data(
    dispute_id: str, principal: AgentPrincipal, disputes: Disputes, edge: Edge
) -> DisputeOut:
    """The report as JSON: the dispute with the agent-only details."""
    return dispute_out(disputes, edge, disputes.dispute(dispute_id), agent=True)
