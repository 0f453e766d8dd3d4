"""Policy file, trace, backtest and explain; the audit chain and its tamper detection."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, update
from sqlalchemy.orm import Session

from infra.ledger.models import AuditEntry, Verdict
from infra.settings import Settings
from tests.support import flows
from tests.support.cli import CLIRun, run_main, run_process


def _cli(settings: Settings, *args: str) -> CLIRun:
    """In-process through ``orderseal.cli:main``; the policy check below runs the binary."""
    return run_main(settings, *args)


@pytest.fixture(scope="module")
def decided(
    live_api: str, credentials: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, object]]:
    """An honest small claim (allow), an honest large claim (review) and an unsigned one."""
    work = tmp_path_factory.mktemp("policy")
    cast = flows.actors(live_api, credentials)
    small = flows.register_order(cast)
    large = flows.register_order(cast)
    files_small = flows.receive(cast, flows.ship(cast, small, work), work)
    files_large = flows.receive(cast, flows.ship(cast, large, work), work)
    results = {"small": flows.dispute(cast, small, files_small)}
    created = cast.platform.call(
        "POST",
        "/v1/disputes",
        json={
            "order_id": large,
            "buyer_id": cast.buyer_id,
            "claim_type": "damaged",
            "amount": "800.00",
            "currency": "USD",
        },
    )
    for path in files_large:
        cast.platform.attach_file(created["dispute_id"], path, filename=path.name)
    results["large"] = cast.platform.call("POST", f"/v1/disputes/{created['dispute_id']}/decide")
    return results


def test_default_value_threshold_sends_large_claims_to_review(
    decided: dict[str, dict[str, object]],
) -> None:
    small, large = decided["small"], decided["large"]
    assert small["verdict"]["decision"] == "allow"  # type: ignore[index]
    assert large["verdict"]["decision"] == "review"  # type: ignore[index]
    assert flows.codes(large) == {"policy_review"}
    trace = {r["rule"]: r["fired"] for r in large["verdict"]["policy_trace"]}  # type: ignore[index]
    assert trace["value_threshold"] is True
    assert trace["refunds_per_order"] is False


def test_policy_check(settings: Settings, tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text('[thresholds]\nreview_above = { USD = "10.00" }\n')
    assert run_process(settings, "policy", "check", str(good)).returncode == 0
    bad = tmp_path / "bad.toml"
    bad.write_text('[decisions]\nblock = ["not_a_code"]\n')
    result = _cli(settings, "policy", "check", str(bad))
    assert result.returncode == 3
    assert "policy_invalid" in result.stdout
    assert "decisions.block" in result.stdout


def test_backtest_counts_changes_in_each_direction(
    settings: Settings, decided: dict[str, dict[str, object]], tmp_path: Path
) -> None:
    stricter = tmp_path / "stricter.toml"
    stricter.write_text('[thresholds]\nreview_above = { USD = "10.00" }\n')
    result = _cli(settings, "policy", "backtest", str(stricter))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 disputes replayed, 1 decisions change" in result.stdout
    assert "allow -> review: 1" in result.stdout
    assert str(decided["small"]["dispute_id"]) in result.stdout


def test_explain_prints_checks_and_rules(
    settings: Settings, decided: dict[str, dict[str, object]]
) -> None:
    result = _cli(settings, "policy", "explain", str(decided["large"]["dispute_id"]))
    assert result.returncode == 0
    assert "value_threshold" in result.stdout
    assert "FIRED" in result.stdout
    assert "chain" in result.stdout


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("signature", "a"),  # not base64url: was exit 4 "error ValueError"
        ("signature", "\u00e9" * 8),
        ("signer_certificate_pem", "garbage"),
        ("entry_hash", "abc"),
    ],
    ids=["signature-not-base64", "signature-not-ascii", "certificate-garbage", "hash-short"],
)
def test_audit_chain_reports_a_malformed_column_as_a_break(
    settings: Settings, decided: dict[str, dict[str, object]], column: str, value: str
) -> None:
    """An insider with database write access garbles one audit column of the last entry."""
    engine = create_engine(settings.resolved_database_url)
    try:
        with Session(engine) as session, session.begin():
            last = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
            assert last is not None
            entry_id, original = last.id, getattr(last, column)
            session.execute(
                update(AuditEntry).where(AuditEntry.id == entry_id).values({column: value})
            )
        broken = _cli(settings, "audit", "verify")
    finally:
        with Session(engine) as session, session.begin():
            session.execute(
                update(AuditEntry).where(AuditEntry.id == entry_id).values({column: original})
            )
        engine.dispose()
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "broken at entry 2" in broken.stdout
    assert _cli(settings, "audit", "verify").returncode == 0


def test_audit_chain_reports_a_body_that_is_no_object(
    settings: Settings, decided: dict[str, dict[str, object]]
) -> None:
    """The insider replaces the last verdict's body with JSON that is not an object."""
    engine = create_engine(settings.resolved_database_url)
    try:
        with Session(engine) as session, session.begin():
            last = session.scalars(select(Verdict).order_by(Verdict.id.desc())).first()
            assert last is not None
            verdict_id, original = last.id, last.body
            session.execute(update(Verdict).where(Verdict.id == verdict_id).values(body=[1]))
        broken = _cli(settings, "audit", "verify")
    finally:
        with Session(engine) as session, session.begin():
            session.execute(update(Verdict).where(Verdict.id == verdict_id).values(body=original))
        engine.dispose()
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "broken at entry 2" in broken.stdout


def test_audit_chain_detects_an_edited_past_verdict(
    settings: Settings, decided: dict[str, dict[str, object]]
) -> None:
    intact = _cli(settings, "audit", "verify")
    assert intact.returncode == 0, intact.stdout
    assert "intact: 2 entries" in intact.stdout

    # Edit the first verdict straight in the database, behind the service's back.
    engine = create_engine(settings.resolved_database_url)
    with Session(engine) as session, session.begin():
        first = session.scalars(select(Verdict).order_by(Verdict.id).limit(1)).one()
        first.body = {**first.body, "decision": "block"}
    engine.dispose()

    broken = _cli(settings, "audit", "verify")
    assert broken.returncode == 1
    assert "broken at entry 1" in broken.stdout
    assert "verdict edited" in broken.stdout
