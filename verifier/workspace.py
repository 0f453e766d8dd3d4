"""The agent's one screen of a dispute, as one JSON document (``GET .../workspace``).

What the buyer submitted beside the order's sealed originals, every check in plain words (the
reason code kept apart), the policy trace, the timeline of the order and the dispute, related
disputes (which dispute already holds one of these files, the buyer's other disputes), the
agents' decisions and the merchant's responses. Every list is bounded, and the document takes a
fixed number of queries whatever the dispute holds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from evidence.label_entry import LabelEntry, recorded_entry
from evidence.recapture import RECAPTURE_THRESHOLD
from infra.ledger.agent_models import DisputeWork
from infra.ledger.agent_work import AWAITING_EVIDENCE, AgentWork, ReuseLink
from infra.ledger.models import CaptureSession, Dispute, DisputeEvidence, Evidence
from verifier.agent_decisions import decision_out
from verifier.agent_schemas import (
    DisputeStatus,
    PlainReasonOut,
    RelatedDisputeOut,
    SealedOriginalOut,
    SubmittedFileOut,
    TimelineEventOut,
    WorkspaceCheckOut,
    WorkspaceDisputeOut,
    WorkspaceMerchantResponseOut,
    WorkspaceOut,
    WorkspaceVerdictOut,
)
from verifier.disputes import DisputeService
from verifier.perceptual import near_duplicate
from verifier.queue import assignment_out
from verifier.schemas import EvidenceVerdictOut, HistoryEntryOut, ReasonOut
from verifier.wording import plain_check, plain_rule, reason_sentence, utc_text

__all__ = [
    "MAX_ORIGINALS",
    "MAX_RELATED",
    "MAX_SUBMITTED",
    "MAX_TIMELINE",
    "MerchantResponseRow",
    "WorkspaceService",
    "workspace_url",
]

#: Caps per list: a dispute with more shows the first ones (the API pages the rest elsewhere).
MAX_SUBMITTED = 50
MAX_ORIGINALS = 50
MAX_RELATED = 20
MAX_TIMELINE = 200
_MAX_SESSIONS = 50
_MAX_DECISIONS = 50
_MAX_RESPONSES = 20


class MerchantResponseRow(Protocol):
    """What the workspace reads of a merchant's response (the ledger's row)."""

    @property
    def response_id(self) -> str: ...
    @property
    def merchant_id(self) -> str: ...
    @property
    def statement(self) -> str: ...
    @property
    def evidence_ids(self) -> Sequence[str]: ...
    @property
    def created_at(self) -> datetime: ...


def workspace_url(dispute_id: str) -> str:
    """The agent page of a dispute (the page reads the id from the fragment)."""
    return f"/agent#dispute={dispute_id}"


def _no_responses(dispute_id: str) -> Sequence[MerchantResponseRow]:
    return ()


def _reasons(reasons: Sequence[ReasonOut]) -> tuple[PlainReasonOut, ...]:
    return tuple(PlainReasonOut(code=r.code, sentence=reason_sentence(r.code)) for r in reasons)


def _status(dispute: Dispute, work: DisputeWork | None) -> DisputeStatus:
    if work is not None and work.agent_status == AWAITING_EVIDENCE:
        return "awaiting_evidence"
    return "open" if dispute.decision is None else "decided"


def _checks(
    evidence: Sequence[EvidenceVerdictOut], reused: dict[str, list[str]]
) -> tuple[WorkspaceCheckOut, ...]:
    out = []
    for item in evidence:
        for check in item.checks:
            plain = plain_check(check)
            technical = "; ".join(t for t in (check.detail, check.agent_detail) if t)
            out.append(
                WorkspaceCheckOut(
                    **plain.model_dump(),
                    content_sha256=item.content_sha256,
                    filename=item.filename,
                    related_disputes=tuple(reused.get(item.content_sha256, ()))
                    if check.check == "reuse"
                    else (),
                    technical_detail=technical,
                )
            )
    return tuple(out)


def _verdict(
    entry: HistoryEntryOut | None, reused: dict[str, list[str]]
) -> WorkspaceVerdictOut | None:
    if entry is None:
        return None
    return WorkspaceVerdictOut(
        decision=entry.decision,
        policy_decision=entry.policy_decision,
        dry_run=entry.dry_run,
        decided_at=utc_text(entry.decided_at),
        decided_by="agent" if entry.agent_decision else "verifier",
        reasons=_reasons(entry.reasons),
        checks=_checks(entry.evidence, reused),
    )


def _related(
    links: Sequence[ReuseLink], same_buyer: Sequence[Dispute]
) -> tuple[RelatedDisputeOut, ...]:
    seen: set[tuple[str, str]] = set()
    out: list[RelatedDisputeOut] = []
    for link in links:
        if (link.dispute_id, "evidence_reused") in seen:
            continue
        seen.add((link.dispute_id, "evidence_reused"))
        if link.same_bytes:
            what = "the same file"
        elif link.near_copy:
            what = "a near-identical copy of the picture"
        else:
            what = "a file with the same Content Credentials"
        out.append(
            RelatedDisputeOut(
                dispute_id=link.dispute_id,
                relation="evidence_reused",
                detail=f"{link.dispute_id} already holds {what} "
                f"(SHA-256 {link.content_sha256[:12]}…), on order {link.order_id}",
                order_id=link.order_id,
            )
        )
    for other in same_buyer:
        decision = other.decision or "not decided"
        out.append(
            RelatedDisputeOut(
                dispute_id=other.dispute_id,
                relation="same_buyer",
                detail=f"filed {utc_text(other.created_at)} by the same buyer "
                f"({other.claim_type}, {decision})",
                order_id=other.order_id,
            )
        )
    return tuple(out[: 2 * MAX_RELATED])


def _timeline(
    dispute: Dispute,
    originals: Sequence[Evidence],
    sessions: Sequence[CaptureSession],
    history: Sequence[HistoryEntryOut],
    responses: Sequence[MerchantResponseRow],
) -> tuple[TimelineEventOut, ...]:
    events: list[tuple[datetime, TimelineEventOut]] = []

    def add(event: str, at: datetime, actor: str, detail: str = "") -> None:
        events.append(
            (
                at,
                TimelineEventOut.model_validate(
                    {"event": event, "at": utc_text(at), "actor": actor, "detail": detail}
                ),
            )
        )

    by_stage = {"shipment": "packed", "receipt": "unboxed", "review": "reviewed"}
    for row in originals:
        add(
            by_stage.get(row.stage, "unboxed"),
            row.sealed_at,
            row.device_id,
            row.title,
        )
    for session in sessions:
        if session.stage == "shipment" and session.closed_at is not None:
            add("label_printed", session.closed_at, session.device_id or "station")
        elif session.stage == "receipt":
            # A typed label code is told as such (buyer-declared: it only ever downgrades).
            typed = recorded_entry(session.label_entry) is LabelEntry.TYPED
            event = "label_typed" if typed else "label_scanned"
            add(event, session.opened_at, session.buyer_id or "buyer")
    add("filed", dispute.created_at, dispute.buyer_id, dispute.claim_type)
    for entry in history:
        at = datetime.fromisoformat(entry.decided_at)
        ref = entry.agent_decision
        if ref is not None:
            kind = "evidence_requested" if ref.action == "request_evidence" else "agent_decision"
            add(kind, at, ref.agent or "agent", f"{ref.action}: {entry.decision}")
        else:
            held = " (the agent's decision stands)" if entry.agent_decision_stands else ""
            add("decided", at, "verifier", f"{entry.decision}{held}")
    for response in responses:
        add("merchant_response", response.created_at, response.merchant_id)
    events.sort(key=lambda pair: pair[0])
    return tuple(event for _, event in events[:MAX_TIMELINE])


def _recapture_score(verdict: EvidenceVerdictOut | None) -> float | None:
    """The photo's recapture score, shown as advice beside it (issue 19 §2)."""
    return None if verdict is None else verdict.recapture_score


def _recapture_suspected(verdict: EvidenceVerdictOut | None) -> bool:
    score = _recapture_score(verdict)
    return score is not None and score >= RECAPTURE_THRESHOLD


def _recovered(verdict: EvidenceVerdictOut | None) -> dict[str, str]:
    """The sealed original a stripped copy was traced to, for the side-by-side view."""
    if verdict is None or verdict.recovered_evidence_id is None:
        return {}
    evidence_id = verdict.recovered_evidence_id
    return {
        "recovered_evidence_id": evidence_id,
        "recovered_file_url": f"/v1/evidence/{evidence_id}/file",
    }


def _reuse_failed(entry: HistoryEntryOut | None) -> set[str]:
    """The files whose reuse check failed in the verdict in force."""
    if entry is None:
        return set()
    return {
        item.content_sha256
        for item in entry.evidence
        for check in item.checks
        if check.check == "reuse" and not check.passed
    }


class WorkspaceService:
    """Builds the workspace document over the dispute service and the agents' ledger."""

    def __init__(
        self,
        *,
        disputes: DisputeService,
        work: AgentWork,
        merchant_responses: Callable[[str], Sequence[MerchantResponseRow]] = _no_responses,
    ) -> None:
        self.disputes = disputes
        self.work = work
        self.merchant_responses = merchant_responses

    def _near_copies(
        self,
        dispute_id: str,
        current: HistoryEntryOut | None,
        attachments: Sequence[DisputeEvidence],
        exact: Sequence[ReuseLink],
    ) -> list[ReuseLink]:
        """Disputes holding a near-identical picture of a file whose reuse check failed and
        that no exact link explains (the verifier's own perceptual test, verifier.perceptual).

        The scan over other disputes' fingerprints is the one the verifier makes when it
        decides; it runs only for such a file, so most screens never make it.
        """
        explained = {link.content_sha256 for link in exact}
        wanted = {
            row.content_sha256: list(row.perceptual_hashes or [])
            for row in attachments
            if row.content_sha256 in _reuse_failed(current) - explained and row.perceptual_hashes
        }
        if not wanted:
            return []
        ledger = self.disputes.ledger
        found = sorted(
            {
                (other, sha)
                for other, theirs in ledger.perceptual_candidates(dispute_id)
                for sha, ours in wanted.items()
                if near_duplicate(ours, theirs)
            }
        )[:MAX_RELATED]
        orders = ledger.dispute_orders(other for other, _ in found)
        return [
            ReuseLink(other, orders.get(other, ""), sha, same_bytes=False, near_copy=True)
            for other, sha in found
        ]

    def workspace(self, dispute_id: str) -> WorkspaceOut:
        """The one-screen document of a dispute.

        Raises:
            NotFoundError: ``dispute_not_found``.
        """
        ledger = self.disputes.ledger
        dispute = self.disputes.dispute(dispute_id)
        history = self.disputes.history_entries(dispute_id)
        current = next((e for e in reversed(history) if not e.agent_decision_stands), None)
        work = self.work.work_of([dispute_id]).get(dispute_id)
        attachments = ledger.attachments(dispute_id)[:MAX_SUBMITTED]
        links = self.work.reuse_links(dispute_id, limit=MAX_RELATED)
        links += self._near_copies(dispute_id, current, attachments, links)
        reused: dict[str, list[str]] = {}
        for link in links:
            reused.setdefault(link.content_sha256, []).append(link.dispute_id)
        by_file = {item.content_sha256: item for item in (current.evidence if current else ())}
        submitted = [
            SubmittedFileOut(
                content_sha256=row.content_sha256,
                filename=row.filename,
                media_type=row.media_type,
                size=row.size,
                attached_at=utc_text(row.attached_at),
                decision=by_file[row.content_sha256].decision
                if row.content_sha256 in by_file
                else None,
                reasons=_reasons(by_file[row.content_sha256].reasons)
                if row.content_sha256 in by_file
                else (),
                url=f"/v1/disputes/{dispute_id}/submitted/{row.content_sha256}",
                **_recovered(by_file.get(row.content_sha256)),
                recapture_score=_recapture_score(by_file.get(row.content_sha256)),
                recapture_suspected=_recapture_suspected(by_file.get(row.content_sha256)),
            )
            for row in attachments
        ]
        originals = ledger.evidence_for_order(dispute.order_id)[:MAX_ORIGINALS]
        responses = list(self.merchant_responses(dispute_id))[:_MAX_RESPONSES]
        return WorkspaceOut(
            dispute=WorkspaceDisputeOut(
                dispute_id=dispute.dispute_id,
                order_id=dispute.order_id,
                buyer_id=dispute.buyer_id,
                claim_type=dispute.claim_type,
                amount=dispute.amount,
                currency=dispute.currency,
                status=_status(dispute, work),
                decision=dispute.decision,
                filed_at=utc_text(dispute.created_at),
                decided_at=utc_text(dispute.decided_at) if dispute.decided_at else None,
                assignment=assignment_out(dispute_id, work) if work and work.assigned_to else None,
                workspace_url=workspace_url(dispute_id),
            ),
            verdict=_verdict(current, reused),
            policy_trace=tuple(plain_rule(r) for r in current.policy_trace) if current else (),
            submitted_files=tuple(submitted),
            sealed_originals=tuple(
                SealedOriginalOut(
                    evidence_id=row.evidence_id,
                    stage=row.stage,
                    media_type=row.media_type,
                    title=row.title,
                    captured_at=utc_text(row.captured_at),
                    sealed_at=utc_text(row.sealed_at),
                    file_url=f"/v1/evidence/{row.evidence_id}/file",
                    thumbnail_url=f"/v1/evidence/{row.evidence_id}/thumbnail.jpg",
                )
                for row in originals
            ),
            timeline=_timeline(
                dispute,
                originals,
                self.work.capture_sessions(dispute.order_id, limit=_MAX_SESSIONS),
                history,
                responses,
            ),
            related_disputes=_related(
                links, self.work.same_buyer(dispute_id, dispute.buyer_id, limit=MAX_RELATED)
            ),
            agent_decisions=tuple(
                decision_out(row) for row in self.work.decisions(dispute_id, limit=_MAX_DECISIONS)
            ),
            merchant_responses=tuple(
                WorkspaceMerchantResponseOut(
                    response_id=r.response_id,
                    merchant_id=r.merchant_id,
                    statement=r.statement,
                    evidence_ids=tuple(r.evidence_ids),
                    created_at=utc_text(r.created_at),
                )
                for r in responses
            ),
        )
