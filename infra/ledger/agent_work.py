"""The agents' work in the ledger: the queue (assignment, listing), agent decisions, the reads
of the one-screen workspace and the report links.

Decisions are compare-and-set: the first statement of the transaction is the ``UPDATE`` of the
dispute row guarded by ``decision = 'review'``, so two agents deciding at once (on SQLite and
PostgreSQL alike) give one decision and one refusal, never two verdicts. The decision is a
verdict row appended to the signed audit chain and its webhook event is written in the same
transaction (the outbox).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import and_, desc, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from infra.errors import ConflictError
from infra.ledger.agent_models import AgentDecision, DisputeWork, ReportLink
from infra.ledger.audit_chain import AuditSealer, append_audit_entry
from infra.ledger.counting import hold_counting_lock
from infra.ledger.dispute_pages import has_reason
from infra.ledger.models import (
    APIKey,
    CaptureSession,
    Dispute,
    DisputeEvidence,
    Order,
    Verdict,
)
from infra.ledger.sessions import GuardedSessions
from infra.ledger.webhooks import OutboxEvent, add_outbox_events

__all__ = [
    "AGENT_DECIDED",
    "AWAITING_EVIDENCE",
    "MAX_LIVE_LINKS",
    "AgentWork",
    "DecisionOutcome",
    "QueueFilters",
    "ReuseLink",
    "hold_for_agent",
]

AWAITING_EVIDENCE = "awaiting_evidence"
#: Live report links one platform subject holds to one dispute (``report_link_limit_reached``):
#: a back office opening a report makes one; a key minting them in a loop fills no table.
MAX_LIVE_LINKS = 20
AGENT_DECIDED = "agent_decided"


@dataclass(frozen=True)
class DecisionOutcome:
    """What became of an agent decision: recorded (with its rows) or why not."""

    status: Literal["recorded", "no_dispute", "not_in_review", "already_requested"]
    decision: AgentDecision | None = None
    dispute: Dispute | None = None


@dataclass(frozen=True)
class QueueFilters:
    """The agents' listing filters, all applied in SQL before the limit."""

    decision: str | None = None
    reason: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    #: ``"none"`` (unassigned), or the subject the dispute is assigned to.
    assigned: str | None = None
    order_id: str | None = None
    buyer_id: str | None = None
    #: The seller of the disputed order (``orders.merchant_id``).
    merchant_id: str | None = None


@dataclass(frozen=True)
class ReuseLink:
    """Another dispute holding one of this dispute's files (the same bytes or manifest, or a
    near-identical copy)."""

    dispute_id: str
    order_id: str
    content_sha256: str
    same_bytes: bool
    #: Found by the perceptual fingerprint (a re-encoded or resized copy), not by the ledger.
    near_copy: bool = False


class _AlreadyRequestedError(Exception):
    """Rolls back a request for evidence on a dispute already waiting for it."""


def hold_for_agent(session: Session, dispute_id: str, *, at: datetime) -> bool:
    """Inside a verdict's transaction: whether an agent's decision stands over a new verdict.

    After an approve or deny the agent's decision stands (True). After a request for evidence
    the new automatic verdict applies and the request is answered (status cleared, False).
    """
    work = session.get(DisputeWork, dispute_id, with_for_update=True)
    if work is None or work.agent_status is None:
        return False
    if work.agent_status == AGENT_DECIDED:
        return True
    work.agent_status = None
    work.updated_at = at
    return False


def _work_row(session: Session, dispute_id: str, at: datetime) -> DisputeWork:
    work = session.get(DisputeWork, dispute_id, with_for_update=True)
    if work is None:
        work = DisputeWork(dispute_id=dispute_id, updated_at=at)
        session.add(work)
    return work


class AgentWork:
    """Repository of the agents' work; each method is one transaction.

    Every method raises ``UnavailableError`` (``ledger_unavailable``, 503) when the database
    is down or drops the connection.
    """

    def __init__(
        self,
        sessions: GuardedSessions,
        *,
        outbox_written: Callable[[Sequence[OutboxEvent]], None] = lambda events: None,
    ) -> None:
        self._sessions = sessions
        self._outbox_written = outbox_written

    # Decisions ---------------------------------------------------------------
    def record_decision(
        self,
        *,
        decision_id: str,
        dispute_id: str,
        action: str,
        decision: str,
        note: str,
        agent_subject: str,
        agent_key_id: str,
        at: datetime,
        body: Callable[[dict[str, Any]], dict[str, Any]],
        audit: AuditSealer | None,
        event: Callable[[Dispute], OutboxEvent] | None,
    ) -> DecisionOutcome:
        """Record an agent's decision on a dispute whose decision is ``review``, atomically.

        ``body(latest_body)`` gives the verdict body to append (built from the latest verdict);
        ``event(dispute)`` the outbox row announcing it (None: no webhook). A request for
        evidence on a dispute still waiting for the evidence asked before is
        ``already_requested`` and writes nothing: each request would append a signed verdict
        and send a webhook while nothing changed, so they are bounded by the evidence the
        platform brings.

        Raises:
            ConflictError: ``audit_contention`` when the chain stays too busy.
        """
        final = decision != "review"
        for _attempt in range(20):
            try:
                with self._sessions.begin() as session:
                    # The guarded UPDATE stays the first statement (SQLite's write lock).
                    values: dict[str, Any] = {"decision": decision, "updated_at": at}
                    if final:
                        values["decided_at"] = at
                    changed = session.execute(
                        update(Dispute)
                        .where(Dispute.dispute_id == dispute_id, Dispute.decision == "review")
                        .values(**values)
                        .execution_options(synchronize_session=False)
                    )
                    if getattr(changed, "rowcount", 0) != 1:
                        exists = session.get(Dispute, dispute_id) is not None
                        return DecisionOutcome("not_in_review" if exists else "no_dispute")
                    work = _work_row(session, dispute_id, at)
                    if not final and work.agent_status == AWAITING_EVIDENCE:
                        raise _AlreadyRequestedError
                    dispute = session.get(Dispute, dispute_id, populate_existing=True)
                    latest = session.scalars(
                        select(Verdict)
                        .where(Verdict.dispute_id == dispute_id)
                        .order_by(Verdict.id.desc())
                        .limit(1)
                    ).one()
                    verdict_body = body(dict(latest.body))
                    verdict = Verdict(
                        dispute_id=dispute_id,
                        decision=decision,
                        body=verdict_body,
                        decided_at=at,
                        change_reason="agent_decision",
                    )
                    session.add(verdict)
                    session.flush()
                    if audit is not None:
                        append_audit_entry(
                            session,
                            verdict_id=verdict.id,
                            dispute_id=dispute_id,
                            body=verdict_body,
                            at=at,
                            audit=audit,
                        )
                    row = AgentDecision(
                        decision_id=decision_id,
                        dispute_id=dispute_id,
                        verdict_id=verdict.id,
                        action=action,
                        note=note,
                        agent_subject=agent_subject,
                        agent_key_id=agent_key_id,
                        previous_decision="review",
                        decision=decision,
                        decided_at=at,
                    )
                    session.add(row)
                    work.agent_status = AGENT_DECIDED if final else AWAITING_EVIDENCE
                    work.updated_at = at
                    events = [event(dispute)] if event is not None and dispute else []
                    add_outbox_events(session, events)
                self._outbox_written(events)
                return DecisionOutcome("recorded", row, dispute)
            except _AlreadyRequestedError:
                return DecisionOutcome("already_requested")
            except IntegrityError:
                continue
        raise ConflictError("the audit chain is too busy; retry", code="audit_contention")

    def decisions(self, dispute_id: str, *, limit: int = 100) -> list[AgentDecision]:
        """The agents' decisions on a dispute, oldest first (at most ``limit``)."""
        with self._sessions() as session:
            return list(
                session.scalars(
                    select(AgentDecision)
                    .where(AgentDecision.dispute_id == dispute_id)
                    .order_by(AgentDecision.decided_at, AgentDecision.verdict_id)
                    .limit(limit)
                )
            )

    # Queue -------------------------------------------------------------------
    def assign(
        self, dispute_id: str, agent: str | None, *, by: str, at: datetime
    ) -> DisputeWork | None:
        """Assign a dispute to ``agent`` (None: unassign); None when the dispute is unknown."""
        with self._sessions.begin() as session:
            if session.get(Dispute, dispute_id) is None:
                return None
            work = _work_row(session, dispute_id, at)
            work.assigned_to = agent
            work.assigned_at = at if agent else None
            work.assigned_by = by if agent else None
            work.updated_at = at
            return work

    def work_of(self, dispute_ids: Iterable[str]) -> dict[str, DisputeWork]:
        """The queue rows of the named disputes, in one query (absent: never touched)."""
        ids = sorted(set(dispute_ids))
        if not ids:
            return {}
        with self._sessions() as session:
            rows = session.scalars(select(DisputeWork).where(DisputeWork.dispute_id.in_(ids)))
            return {row.dispute_id: row for row in rows}

    def agent_exists(self, subject: str, *, now: datetime) -> bool:
        """Whether an agent API key of ``subject`` is usable now (assignment targets)."""
        with self._sessions() as session:
            found = session.scalar(
                select(func.count())
                .select_from(APIKey)
                .where(
                    APIKey.role == "agent",
                    APIKey.subject == subject,
                    APIKey.revoked_at.is_(None),
                    or_(APIKey.expires_at.is_(None), APIKey.expires_at > now),
                )
            )
            return bool(found)

    def queue(
        self, filters: QueueFilters, *, after: tuple[datetime, str] | None, limit: int
    ) -> list[Dispute]:
        """One page of disputes, newest filing first, every filter in SQL before ``limit``.

        ``after`` is the last (created_at, dispute_id) of the previous page (keyset cursor).
        """
        query = select(Dispute)
        if filters.assigned is not None:
            query = query.outerjoin(DisputeWork, DisputeWork.dispute_id == Dispute.dispute_id)
            if filters.assigned == "none":
                query = query.where(DisputeWork.assigned_to.is_(None))
            else:
                query = query.where(DisputeWork.assigned_to == filters.assigned)
        if filters.decision:
            query = query.where(Dispute.decision == filters.decision)
        if filters.reason:
            query = query.where(has_reason(filters.reason))
        if filters.since:
            query = query.where(Dispute.created_at >= filters.since)
        if filters.until:
            query = query.where(Dispute.created_at < filters.until)
        if filters.order_id:
            query = query.where(Dispute.order_id == filters.order_id)
        if filters.buyer_id:
            query = query.where(Dispute.buyer_id == filters.buyer_id)
        if filters.merchant_id:
            # A dispute of an unknown order has no merchant: it never matches.
            query = query.join(Order, Order.order_id == Dispute.order_id).where(
                Order.merchant_id == filters.merchant_id
            )
        if after:
            at, last_id = after
            query = query.where(
                or_(
                    Dispute.created_at < at,
                    and_(Dispute.created_at == at, Dispute.dispute_id < last_id),
                )
            )
        query = query.order_by(desc(Dispute.created_at), desc(Dispute.dispute_id)).limit(limit)
        with self._sessions() as session:
            return list(session.scalars(query))

    # Workspace reads ----------------------------------------------------------
    def reuse_links(self, dispute_id: str, *, limit: int) -> list[ReuseLink]:
        """Other disputes holding one of this dispute's files (same bytes or manifest)."""
        mine, other = aliased(DisputeEvidence), aliased(DisputeEvidence)
        same_bytes = other.content_sha256 == mine.content_sha256
        query = (
            select(other.dispute_id, Dispute.order_id, mine.content_sha256, same_bytes)
            .join(
                other,
                and_(
                    other.dispute_id != mine.dispute_id,
                    or_(
                        same_bytes,
                        and_(mine.manifest_id.is_not(None), other.manifest_id == mine.manifest_id),
                    ),
                ),
            )
            .join(Dispute, Dispute.dispute_id == other.dispute_id)
            .where(mine.dispute_id == dispute_id)
            .order_by(other.dispute_id)
            .limit(limit)
        )
        with self._sessions() as session:
            return [
                ReuseLink(other_id, order_id, sha, bool(exact))
                for other_id, order_id, sha, exact in session.execute(query)
            ]

    def same_buyer(self, dispute_id: str, buyer_id: str, *, limit: int) -> list[Dispute]:
        """The buyer's other disputes, newest first (at most ``limit``)."""
        with self._sessions() as session:
            return list(
                session.scalars(
                    select(Dispute)
                    .where(Dispute.buyer_id == buyer_id, Dispute.dispute_id != dispute_id)
                    .order_by(desc(Dispute.created_at), desc(Dispute.dispute_id))
                    .limit(limit)
                )
            )

    def capture_sessions(self, order_id: str, *, limit: int) -> list[CaptureSession]:
        """The order's capture sessions (shipment and receipt), oldest first."""
        with self._sessions() as session:
            return list(
                session.scalars(
                    select(CaptureSession)
                    .where(CaptureSession.order_id == order_id)
                    .order_by(CaptureSession.opened_at)
                    .limit(limit)
                )
            )

    def attachment(self, dispute_id: str, content_sha256: str) -> DisputeEvidence | None:
        """One file attached to the dispute, by its SHA-256."""
        with self._sessions() as session:
            return session.scalars(
                select(DisputeEvidence).where(
                    DisputeEvidence.dispute_id == dispute_id,
                    DisputeEvidence.content_sha256 == content_sha256,
                )
            ).first()

    # Report links --------------------------------------------------------------
    def add_link(self, link: ReportLink, *, max_live: int = MAX_LIVE_LINKS) -> None:
        """Store a new report link (its token's hash only), unless its creator already holds
        ``max_live`` live (unrevoked, unexpired) links to the dispute.

        Raises:
            ConflictError: ``report_link_limit_reached``; an id or token hash collision (retry).
        """
        try:
            with self._sessions.begin() as session:
                hold_counting_lock(session, f"report_links:{link.dispute_id}:{link.created_by}")
                live = session.scalar(
                    select(func.count())
                    .select_from(ReportLink)
                    .where(
                        ReportLink.dispute_id == link.dispute_id,
                        ReportLink.created_by == link.created_by,
                        ReportLink.revoked_at.is_(None),
                        ReportLink.expires_at > link.created_at,
                    )
                )
                if (live or 0) >= max_live:
                    raise ConflictError(
                        f"expected at most {max_live} live report links to one dispute per "
                        "platform subject: revoke one or let one expire",
                        code="report_link_limit_reached",
                    )
                session.add(link)
        except IntegrityError as exc:
            raise ConflictError("expected a new report link, found an existing one") from exc

    def link_by_token_hash(self, token_sha256: str) -> ReportLink | None:
        """The link whose token hashes to ``token_sha256``, whatever its state."""
        with self._sessions() as session:
            return session.scalars(
                select(ReportLink).where(ReportLink.token_sha256 == token_sha256)
            ).first()

    def revoke_link(self, link_id: str, *, owner: str, at: datetime) -> ReportLink | None:
        """Revoke the owner's link (a second revoke keeps the first time); None if not theirs."""
        with self._sessions.begin() as session:
            link = session.get(ReportLink, link_id, with_for_update=True)
            if link is None or link.created_by != owner:
                return None
            if link.revoked_at is None:
                link.revoked_at = at
            return link
