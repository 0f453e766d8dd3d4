"""Public verify page: anyone can check whether a file carries an intact OrderSeal chain.

It answers with stages and times only: no order, buyer or device identities, whoever asks.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from evidence.manifest import ASSERTION_LABEL
from infra.auth import PublicCaller
from infra.offload import run_heavy
from infra.uploads import receive_body
from infra.web import PAGE_HEADERS
from verifier.checks.chain import check_chain
from verifier.checks.content import check_ai_declared, check_edited_after_capture
from verifier.checks.identity import check_identity
from verifier.checks.integrity import check_integrity
from verifier.context import VerifierContext
from verifier.models import DisputeContext
from verifier.reasons import ReasonCode
from verifier.schemas import ReasonOut
from verifier.service import AttachedFile

__all__ = ["PublicVerifyOut", "router"]

router = APIRouter()
#: What anyone is told per finding: fixed text, so no evidence id or ledger detail leaks.
_PUBLIC_MESSAGES: dict[ReasonCode, str] = {
    ReasonCode.NO_MANIFEST: "The file carries no embedded Content Credentials.",
    ReasonCode.UNSUPPORTED_MEDIA: "The file is not a photo or video format that can be checked.",
    ReasonCode.CORRUPT_MEDIA: "The file or its Content Credentials are malformed.",
    ReasonCode.SIGNATURE_INVALID: "The Content Credentials signature does not verify.",
    ReasonCode.CONTENT_TAMPERED: "The content changed after it was signed.",
    ReasonCode.UNTRUSTED_SIGNER: "It was not sealed by the OrderSeal capture service.",
    ReasonCode.SIGNER_REVOKED: "The signing certificate was revoked.",
    ReasonCode.AI_GENERATED_DECLARED: "Its Content Credentials declare generative AI.",
    ReasonCode.EDITED_AFTER_CAPTURE: "It was edited and re-signed after capture.",
    ReasonCode.NOT_AS_SEALED: "The file was changed after OrderSeal sealed it.",
    ReasonCode.CHAIN_BROKEN: "Its seal does not match the OrderSeal record.",
}
_PAGE = Path(__file__).parent / "templates" / "verify.html"


class StageOut(BaseModel):
    stage: str
    captured_at: str | None
    sealed_at: str | None


class PublicVerifyOut(BaseModel):
    carries_orderseal_chain: bool
    intact: bool
    stages: list[StageOut]
    findings: list[ReasonOut]
    summary: str


def _public_finding(code: ReasonCode) -> dict[str, str]:
    return {
        "code": code.value,
        "message": _PUBLIC_MESSAGES.get(code, "The file does not verify as OrderSeal evidence."),
    }


def _stages(manifests: Any) -> list[StageOut]:
    stages = []
    for manifest in manifests.values():
        data = manifest.assertions.get(ASSERTION_LABEL)
        if isinstance(data, dict):
            stages.append(
                StageOut(
                    stage=str(data.get("stage", "unknown")),
                    captured_at=data.get("captured_at"),
                    sealed_at=data.get("received_at"),
                )
            )
    return sorted(stages, key=lambda s: s.sealed_at or "")


def examine(path: Path, services: VerifierContext, filename: str, sha256: str) -> PublicVerifyOut:
    """Judge the file by the dispute rules that need no order, and keep what anyone may know.

    The facts come from the same ``gather`` as dispute verdicts and ``orderseal verify``:
    the sealing authority, identity by content and the ledger row all count here too.
    """
    ctx = DisputeContext(order_id="", buyer_id=None, order=None, now=datetime.now(UTC))
    facts = services.verifier.gather(
        AttachedFile(path, filename, sha256), dispute_id=None, with_reuse=False
    )
    report = facts.report
    if report is None:
        findings = [r for r in check_integrity(facts, ctx) if not r.passed]
        return PublicVerifyOut(
            carries_orderseal_chain=False,
            intact=False,
            stages=[],
            findings=[_public_finding(r.code) for r in findings],
            summary="This file carries no readable Content Credentials.",
        )
    checks = [check_integrity, check_ai_declared, check_edited_after_capture]
    # Ledger answers go only to a file that proves them: identity for a file our key signed,
    # the chain for the very bytes we sealed. Anyone else learns nothing about the ledger.
    if facts.sealed_by_orderseal:
        checks.append(check_identity)
    if facts.ledger_record is not None:
        checks.append(check_chain)
    failed = [r for check in checks for r in check(facts, ctx) if not r.passed]
    ours = facts.sealed_by_orderseal and facts.assertion is not None
    claims_ours = ASSERTION_LABEL in report.active_manifest.assertions
    intact = (
        ours
        and not failed
        and not report.ingredient_failure_codes
        and report.state == "Trusted"
        and facts.ledger_record is not None
    )
    stages = _stages(report.manifests) if intact else []
    if intact:
        summary = (
            "Intact OrderSeal evidence: sealed by the OrderSeal capture service, unchanged since."
        )
    elif claims_ours or facts.sealed_by_orderseal:
        summary = "This file claims an OrderSeal seal, but it does not verify: do not rely on it."
    else:
        summary = "This file is not OrderSeal evidence."
    return PublicVerifyOut(
        carries_orderseal_chain=intact,
        intact=intact,
        stages=stages,
        findings=[_public_finding(r.code) for r in failed],
        summary=summary,
    )


@router.get("/verify", tags=["public"], response_class=HTMLResponse)
def verify_page(caller: PublicCaller) -> HTMLResponse:
    """Upload form (no login)."""
    return HTMLResponse(_PAGE.read_text(), headers=PAGE_HEADERS)


@router.post("/verify", tags=["public"])
async def verify_upload(caller: PublicCaller, request: Request) -> PublicVerifyOut:
    """Check an uploaded file (raw body, streamed, size-limited)."""
    services: VerifierContext = request.app.state.services
    received = await receive_body(
        request,
        services.work_dir,
        max_bytes=services.settings.public_verify_max_bytes,
        public=True,
    )
    try:
        return await run_heavy(request, examine, received.path, services, "upload", received.sha256)
    finally:
        received.path.unlink(missing_ok=True)
