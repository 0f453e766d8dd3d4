"""Refund-gate routes (platform) and the agent report (agent)."""

from __future__ import annotations

import base64
import logging
from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import HTMLResponse

from evidence.thumbnails import make_thumbnail
from infra.auth import AgentPrincipal, PlatformPrincipal
from infra.errors import NotFoundError, OrderSealError
from infra.ledger.models import Dispute
from infra.names import check_client_name
from infra.offload import run_heavy
from infra.ratelimit import enforce
from infra.uploads import receive_body
from infra.web import PAGE_HEADERS
from verifier.context import VerifierContext
from verifier.report import render_report_html
from verifier.schemas import (
    AttachOut,
    AttachSealedIn,
    AttachSealedOut,
    DisputeIn,
    DisputeListOut,
    DisputeOut,
    DisputeSummary,
    SealedAttachResult,
)

__all__ = ["router"]

router = APIRouter(prefix="/v1")
_log = logging.getLogger(__name__)


def _services(request: Request) -> VerifierContext:
    services: VerifierContext = request.app.state.services
    return services


def _platform_view(body: dict[str, Any]) -> dict[str, Any]:
    """A verdict without the agent-only details (other disputes and accounts)."""
    evidence = [
        {
            **item,
            "checks": [
                {k: v for k, v in check.items() if k != "agent_detail"} for check in item["checks"]
            ],
        }
        for item in body.get("evidence", [])
    ]
    return {**body, "evidence": evidence}


def _out(services: VerifierContext, dispute: Dispute, *, agent: bool = False) -> DisputeOut:
    history = services.verifier.history(dispute.dispute_id)
    if not agent:
        history = [_platform_view(body) for body in history]
    return DisputeOut(
        dispute_id=dispute.dispute_id,
        order_id=dispute.order_id,
        buyer_id=dispute.buyer_id,
        claim_type=dispute.claim_type,
        amount=dispute.amount,
        currency=dispute.currency,
        created_at=dispute.created_at,
        decision=dispute.decision,
        decided_at=dispute.decided_at,
        verdict=history[-1] if history else None,
        history=history,
        report_url=f"{services.settings.base_url}/v1/disputes/{dispute.dispute_id}/report",
    )


@router.post("/disputes", status_code=201, tags=["platform"])
def file_dispute(body: DisputeIn, principal: PlatformPrincipal, request: Request) -> DisputeOut:
    """Open a refund dispute; attach evidence next, then ask for a decision."""
    enforce(request, "disputes", principal)
    services = _services(request)
    dispute = services.verifier.file_dispute(
        order_id=body.order_id,
        buyer_id=body.buyer_id,
        claim_type=body.claim_type,
        amount=body.amount,
        currency=body.currency,
        now=services.clock(),
    )
    return _out(services, dispute)


@router.get("/disputes", tags=["agent"])
def list_disputes(
    principal: AgentPrincipal,
    request: Request,
    decision: Annotated[str | None, Query(pattern="^(allow|review|block)$")] = None,
    reason: Annotated[str | None, Query(max_length=64)] = None,
    since: date | None = None,
    until: date | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> DisputeListOut:
    """Disputes for agents, newest first, filtered by decision, reason code and filing date."""
    services = _services(request)
    rows = services.ledger.list_disputes(
        decision=decision,
        since=datetime.combine(since, time.min, tzinfo=UTC) if since else None,
        until=datetime.combine(until, time.max, tzinfo=UTC) if until else None,
        limit=limit,
    )
    items: list[DisputeSummary] = []
    for row in rows:
        history = services.verifier.history(row.dispute_id)
        latest = history[-1] if history else None
        reasons = latest["reasons"] if latest else []
        if reason and reason not in {r["code"] for r in reasons}:
            continue
        items.append(
            DisputeSummary(
                dispute_id=row.dispute_id,
                order_id=row.order_id,
                buyer_id=row.buyer_id,
                claim_type=row.claim_type,
                amount=row.amount,
                currency=row.currency,
                created_at=row.created_at,
                decision=row.decision,
                decided_at=row.decided_at,
                reasons=reasons,
            )
        )
    return DisputeListOut(disputes=items)


@router.put("/disputes/{dispute_id}/files", status_code=201, tags=["platform"])
async def attach_file(
    dispute_id: str,
    principal: PlatformPrincipal,
    request: Request,
    x_orderseal_filename: Annotated[str, Header(max_length=255)] = "evidence",
) -> AttachOut:
    """Attach any file the buyer sent (raw body, streamed)."""
    enforce(request, "uploads", principal)
    services = _services(request)
    filename = check_client_name(x_orderseal_filename)
    services.verifier.dispute(dispute_id)
    received = await receive_body(
        request, services.work_dir, max_bytes=services.settings.max_evidence_bytes
    )
    attached = await run_heavy(
        request,
        services.verifier.attach_upload,
        dispute_id,
        received,
        filename,
        now=services.clock(),
    )
    return AttachOut(dispute_id=dispute_id, attached=attached, content_sha256=received.sha256)


def _attach_one(
    services: VerifierContext, dispute_id: str, evidence_id: str, *, now: datetime
) -> SealedAttachResult:
    """Attach one id of a batch; its failure is reported for it and never stops the rest."""
    try:
        attached = services.verifier.attach_sealed(dispute_id, evidence_id, now=now)
    except NotFoundError as exc:
        return SealedAttachResult(evidence_id=evidence_id, status="not_found", code=exc.code)
    except OrderSealError as exc:  # storage or ledger trouble: this id is not on the dispute
        _log.warning("attaching %s to %s failed: %s", evidence_id, dispute_id, exc.code)
        return SealedAttachResult(evidence_id=evidence_id, status="failed", code=exc.code)
    return SealedAttachResult(
        evidence_id=evidence_id, status="attached" if attached else "already_attached"
    )


@router.post("/disputes/{dispute_id}/sealed", status_code=201, tags=["platform"])
def attach_sealed(
    dispute_id: str, body: AttachSealedIn, principal: PlatformPrincipal, request: Request
) -> AttachSealedOut:
    """Attach sealed evidence by id: every id is tried and gets its own result.

    An id already on the dispute does not stop the ones after it (``already_attached``); an
    unknown id is ``not_found``. ``complete`` is true only when every id is on the dispute.
    """
    services = _services(request)
    services.verifier.dispute(dispute_id)  # an unknown dispute refuses the whole batch first
    now = services.clock()
    results = [
        _attach_one(services, dispute_id, evidence_id, now=now) for evidence_id in body.evidence_ids
    ]
    return AttachSealedOut(
        dispute_id=dispute_id,
        attached=all(r.status == "attached" for r in results),
        complete=all(r.status in ("attached", "already_attached") for r in results),
        results=results,
    )


@router.post("/disputes/{dispute_id}/decide", tags=["platform"])
def decide(dispute_id: str, principal: PlatformPrincipal, request: Request) -> DisputeOut:
    """Evaluate every attached file; earlier verdicts stay in the history."""
    services = _services(request)
    verdict = services.verifier.decide(dispute_id, now=services.clock())
    request.app.state.metrics.verdicts.labels(verdict.decision.value).inc()
    return _out(services, services.verifier.dispute(dispute_id))


@router.get("/disputes/{dispute_id}", tags=["platform"])
def get_dispute(dispute_id: str, principal: PlatformPrincipal, request: Request) -> DisputeOut:
    """The dispute with its current verdict and history."""
    services = _services(request)
    return _out(services, services.verifier.dispute(dispute_id))


@router.get("/disputes/{dispute_id}/report", tags=["agent"], response_class=HTMLResponse)
def report(dispute_id: str, principal: AgentPrincipal, request: Request) -> HTMLResponse:
    """The agent's readable report."""
    services = _services(request)
    dispute = services.verifier.dispute(dispute_id)
    order_evidence = services.ledger.evidence_for_order(dispute.order_id)
    thumbnails: dict[str, str] = {}
    for row in order_evidence:
        cache = services.settings.resolved_home / "thumbnails" / f"{row.sealed_sha256}.jpg"
        with services.store.open_local(row.storage_key) as path:
            data = make_thumbnail(path, row.media_type, cache)
        if data is not None:
            thumbnails[row.evidence_id] = (
                "data:image/jpeg;base64," + base64.b64encode(data).decode()
            )
    history = services.verifier.history(dispute_id)
    return HTMLResponse(
        render_report_html(dispute, history, order_evidence, thumbnails), headers=PAGE_HEADERS
    )


@router.get("/disputes/{dispute_id}/report.json", tags=["agent"])
def report_data(dispute_id: str, principal: AgentPrincipal, request: Request) -> DisputeOut:
    """The report as JSON."""
    services = _services(request)
    return _out(services, services.verifier.dispute(dispute_id), agent=True)
