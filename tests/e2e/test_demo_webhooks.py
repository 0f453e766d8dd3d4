"""The demo's webhooks: every verdict and every sealed capture arrives, signed, exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.settings import Settings
from orderseal.demo import run_scenario
from orderseal.demo_webhooks import DemoWebhooks
from orderseal.services import Services
from tests.conftest import make_settings


@pytest.fixture(scope="module")
def settings(
    module_home: Path, database_url: str, storage_overrides: dict[str, object]
) -> Settings:
    """As ``orderseal demo`` runs: its receiver is on loopback."""
    return make_settings(
        module_home,
        database_url=database_url,
        webhook_allow_private_targets=True,
        webhook_poll_seconds=0.05,
        **storage_overrides,
    )


def test_the_demo_receives_each_verdict_and_seal_once(
    live_api: str, settings: Settings, credentials: dict[str, str], services: Services
) -> None:
    with DemoWebhooks(live_api, credentials["platform"], services.dispatcher) as webhooks:
        result = run_scenario(
            live_api, settings.resolved_home, credentials, verifier=services.verifier
        )
        received = webhooks.wait_until_delivered()
    assert webhooks.refused == []
    decided = {
        e.data["dispute_id"]: e.data["decision"] for e in received if e.type == "dispute.decided"
    }
    filed = [*result.disputes, *result.extra_disputes]
    recorded = {d.dispute_id: d.decision for d in filed if d.report_url}
    assert decided == recorded
    # The agent's decision on the review: a decision_changed naming the agent's action.
    step = result.agent_step
    assert step is not None
    changed = [e.data for e in received if e.type == "dispute.decision_changed"]
    assert [
        (c["dispute_id"], c["previous_decision"], c["decision"], c["agent_action"]) for c in changed
    ] == [(step.dispute_id, "review", "block", "deny")]
    sealed = {e.data["evidence_id"] for e in received if e.type == "evidence.sealed"}
    assert {*result.shipment_evidence, *result.receipt_evidence} <= sealed
    assert len({e.webhook_id for e in received}) == len(received)
