"""infra.ledger.agent_work on a real SQLite ledger: the compare-and-set of agent decisions, the
hold a decision puts on later verdicts, the queue's filters and keyset, and report links.

The adversary is a second writer: another agent deciding the same dispute, or an automatic
verdict arriving after an agent settled the case. Neither may overwrite what was decided.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from infra.db import create_ledger_engine, create_schema, session_factory
from infra.ledger.agent_models import ReportLink
from infra.ledger.agent_work import AGENT_DECIDED, AWAITING_EVIDENCE, QueueFilters
from infra.ledger.models import Dispute
from infra.ledger.repository import Ledger

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("agent-ledger") / "ledger.sqlite3"
    engine = create_ledger_engine(f"sqlite:///{path}")
    create_schema(engine)
    engine.dispose()
    return path


@pytest.fixture
def ledger(template: Path, tmp_path: Path) -> Iterator[Ledger]:
    path = tmp_path / "ledger.sqlite3"
    shutil.copyfile(template, path)
    engine = create_ledger_engine(f"sqlite:///{path}")
    yield Ledger(session_factory(engine))
    engine.dispose()


def _dispute(ledger: Ledger, dispute_id: str, *, at: datetime = NOW, buyer: str = "b-1") -> str:
    ledger.add_dispute(
        Dispute(
            dispute_id=dispute_id,
            order_id="ord-1",
            buyer_id=buyer,
            claim_type="damaged",
            amount="1.00",
            currency="USD",
            created_at=at,
            decision=None,
            decided_at=None,
            updated_at=at,
        )
    )
    return dispute_id


def _verdict(ledger: Ledger, dispute_id: str, decision: str, *, at: datetime = NOW) -> None:
    ledger.record_verdict(dispute_id, decision, {"decision": decision, "n": 1}, at)


def _decide(ledger: Ledger, dispute_id: str, action: str, decision: str) -> str:
    def body(latest: dict[str, Any]) -> dict[str, Any]:
        return latest | {"decision": decision, "agent": "agent-1"}

    outcome = ledger.agent_work.record_decision(
        decision_id=f"ad_{dispute_id}_{action}",
        dispute_id=dispute_id,
        action=action,
        decision=decision,
        note="because",
        agent_subject="agent-1",
        agent_key_id="kid_1",
        at=NOW + SECOND,
        body=body,
        audit=None,
        event=None,
    )
    return outcome.status


def test_only_a_review_is_decided_and_only_once(ledger: Ledger) -> None:
    _dispute(ledger, "dp-open")
    assert _decide(ledger, "dp-open", "approve", "allow") == "not_in_review"
    assert _decide(ledger, "dp-missing", "approve", "allow") == "no_dispute"
    _verdict(ledger, _dispute(ledger, "dp-r"), "review")
    assert _decide(ledger, "dp-r", "approve", "allow") == "recorded"
    assert _decide(ledger, "dp-r", "deny", "block") == "not_in_review"
    dispute = ledger.get_dispute("dp-r")
    assert dispute is not None
    assert (dispute.decision, dispute.decided_at) == ("allow", NOW + SECOND)
    assert [v.change_reason for v in ledger.verdicts("dp-r")] == [None, "agent_decision"]
    assert ledger.agent_work.work_of(["dp-r"])["dp-r"].agent_status == AGENT_DECIDED


def test_an_automatic_verdict_after_approve_is_history_only(ledger: Ledger) -> None:
    _verdict(ledger, _dispute(ledger, "dp-h"), "review")
    _decide(ledger, "dp-h", "approve", "allow")
    _verdict(ledger, "dp-h", "block", at=NOW + 2 * SECOND)
    dispute = ledger.get_dispute("dp-h")
    assert dispute is not None
    assert dispute.decision == "allow"
    last = ledger.verdicts("dp-h")[-1]
    assert (last.decision, last.body.get("agent_decision_stands")) == ("block", True)


def test_a_request_for_evidence_is_answered_by_the_next_verdict(ledger: Ledger) -> None:
    _verdict(ledger, _dispute(ledger, "dp-e"), "review")
    assert _decide(ledger, "dp-e", "request_evidence", "review") == "recorded"
    assert ledger.agent_work.work_of(["dp-e"])["dp-e"].agent_status == AWAITING_EVIDENCE
    dispute = ledger.get_dispute("dp-e")
    assert dispute is not None
    assert dispute.decided_at == NOW  # still the verifier's review
    _verdict(ledger, "dp-e", "allow", at=NOW + 2 * SECOND)
    dispute = ledger.get_dispute("dp-e")
    assert dispute is not None
    assert dispute.decision == "allow"
    assert ledger.agent_work.work_of(["dp-e"])["dp-e"].agent_status is None
    assert "agent_decision_stands" not in ledger.verdicts("dp-e")[-1].body


def test_the_queue_filters_before_the_limit_and_pages_by_keyset(ledger: Ledger) -> None:
    for index in range(5):
        _dispute(ledger, f"dp-{index}", at=NOW + index * SECOND, buyer=f"b-{index % 2}")
    ledger.agent_work.assign("dp-1", "agent-1", by="agent-1", at=NOW)
    ledger.agent_work.assign("dp-3", "agent-1", by="agent-1", at=NOW)
    ledger.agent_work.assign("dp-4", "agent-2", by="agent-1", at=NOW)
    mine = ledger.agent_work.queue(QueueFilters(assigned="agent-1"), after=None, limit=1)
    assert [d.dispute_id for d in mine] == ["dp-3"]
    after = (mine[0].created_at, mine[0].dispute_id)
    rest = ledger.agent_work.queue(QueueFilters(assigned="agent-1"), after=after, limit=5)
    assert [d.dispute_id for d in rest] == ["dp-1"]
    nobody = ledger.agent_work.queue(QueueFilters(assigned="none"), after=None, limit=5)
    assert [d.dispute_id for d in nobody] == ["dp-2", "dp-0"]
    buyer = ledger.agent_work.queue(QueueFilters(buyer_id="b-0"), after=None, limit=5)
    assert [d.dispute_id for d in buyer] == ["dp-4", "dp-2", "dp-0"]
    assert ledger.agent_work.assign("dp-missing", "agent-1", by="agent-1", at=NOW) is None
    ledger.agent_work.assign("dp-3", None, by="agent-1", at=NOW)
    assert ledger.agent_work.work_of(["dp-3"])["dp-3"].assigned_to is None


def test_a_link_is_revoked_only_by_its_creator(ledger: Ledger) -> None:
    _dispute(ledger, "dp-l")
    ledger.agent_work.add_link(
        ReportLink(
            link_id="rl_1",
            token_sha256="a" * 64,
            dispute_id="dp-l",
            created_by="office-1",
            created_at=NOW,
            expires_at=NOW + timedelta(hours=1),
        )
    )
    assert ledger.agent_work.revoke_link("rl_1", owner="office-2", at=NOW) is None
    found = ledger.agent_work.link_by_token_hash("a" * 64)
    assert found is not None
    assert found.revoked_at is None
    revoked = ledger.agent_work.revoke_link("rl_1", owner="office-1", at=NOW + SECOND)
    assert revoked is not None
    assert revoked.revoked_at == NOW + SECOND
    again = ledger.agent_work.revoke_link("rl_1", owner="office-1", at=NOW + 2 * SECOND)
    assert again is not None
    assert again.revoked_at == NOW + SECOND
