"""The agents' queue: assignment and the dispute listing (filters, "my queue", cursor pages).

Adversaries: an agent assigning a dispute to a subject that is no agent (work parked where
nobody sees it), answered ``422 agent_unknown``; a client paging with a cursor of other filters
or an altered one (``422 cursor_invalid``, the platform listing's own cursor code).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from infra.cursor import from_cursor, to_cursor
from infra.errors import InputError, NotFoundError
from infra.ledger.agent_models import DisputeWork
from infra.ledger.agent_work import AWAITING_EVIDENCE, AgentWork, QueueFilters
from verifier.agent_schemas import AgentQueueFilters, AssignmentIn, AssignmentOut
from verifier.disputes import DisputeService
from verifier.schemas import DisputeListOut, DisputeSummary, VerdictOut
from verifier.wording import utc_text

__all__ = ["AgentQueue", "assignment_out"]


def assignment_out(dispute_id: str, work: DisputeWork | None) -> AssignmentOut:
    """Who works on the dispute, from its queue row (none: nobody)."""
    if work is None or work.assigned_to is None:
        return AssignmentOut(dispute_id=dispute_id, agent=None, assigned_at=None, assigned_by=None)
    return AssignmentOut(
        dispute_id=dispute_id,
        agent=work.assigned_to,
        assigned_at=utc_text(work.assigned_at) if work.assigned_at else None,
        assigned_by=work.assigned_by,
    )


def _day_start(day: date | None) -> datetime | None:
    return datetime.combine(day, time.min, tzinfo=UTC) if day else None


def _day_end(day: date | None) -> datetime | None:
    return datetime.combine(day, time.max, tzinfo=UTC) if day else None


class AgentQueue:
    """Assigns disputes to agents and lists them for the agents' page."""

    def __init__(self, *, disputes: DisputeService, work: AgentWork) -> None:
        self.disputes = disputes
        self.work = work

    def assign(
        self, dispute_id: str, request: AssignmentIn, *, caller: str, now: datetime
    ) -> AssignmentOut:
        """Assign the dispute to ``me`` (the caller), another agent, or nobody (None).

        Raises:
            NotFoundError: ``dispute_not_found``.
            InputError: ``agent_unknown``: no usable agent key has that subject.
        """
        agent = caller if request.agent == "me" else request.agent
        if agent is not None and agent != caller and not self.work.agent_exists(agent, now=now):
            raise InputError(
                f"expected the subject of an agent API key, found {agent!r}",
                code="agent_unknown",
            )
        work = self.work.assign(dispute_id, agent, by=caller, at=now)
        if work is None:
            raise NotFoundError("no such dispute", code="dispute_not_found")
        return assignment_out(dispute_id, work)

    def page(self, filters: AgentQueueFilters, *, caller: str) -> DisputeListOut:
        """One page, newest filing first; three queries whatever the page size.

        Raises:
            InputError: ``cursor_invalid`` (altered, or made under other filters).
        """
        assigned = caller if filters.assigned == "me" else filters.assigned
        # The cursor binds the resolved filters: "me" of one agent is not another's.
        listing = filters.model_dump(mode="json", exclude={"cursor", "limit"}) | {
            "assigned": assigned
        }
        after = from_cursor(filters.cursor, filters=listing) if filters.cursor else None
        since, until = _day_start(filters.since), _day_end(filters.until)
        rows = self.work.queue(
            QueueFilters(
                decision=filters.decision.value if filters.decision else None,
                reason=filters.reason,
                since=since,
                until=until,
                assigned=assigned,
                order_id=filters.order_id,
                buyer_id=filters.buyer_id,
                merchant_id=filters.merchant_id,
            ),
            after=after,
            limit=filters.limit + 1,
        )
        page, more = rows[: filters.limit], len(rows) > filters.limit
        ids = [row.dispute_id for row in page]
        latest = self.disputes.ledger.latest_verdicts(ids)
        work = self.work.work_of(ids)
        summaries = []
        for row in page:
            verdict = latest.get(row.dispute_id)
            summary = DisputeSummary.from_dispute(
                row, VerdictOut.from_body(verdict.body) if verdict else None
            )
            queue_row = work.get(row.dispute_id)
            summaries.append(
                summary.model_copy(
                    update={
                        "assigned_to": queue_row.assigned_to if queue_row else None,
                        "awaiting_evidence": bool(
                            queue_row and queue_row.agent_status == AWAITING_EVIDENCE
                        ),
                    }
                )
            )
        next_cursor = (
            to_cursor(page[-1].created_at, page[-1].dispute_id, filters=listing) if more else None
        )
        return DisputeListOut(disputes=summaries, next_cursor=next_cursor)
