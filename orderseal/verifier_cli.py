"""``orderseal policy`` (check, backtest, explain) and ``orderseal audit verify``."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from infra.settings import Settings
from verifier.policy_file import load_policy
from verifier.schemas import VerdictOut

__all__ = ["audit_app", "policy_app"]

policy_app = typer.Typer(no_args_is_help=True, help="Refund policy: validate, replay, explain")
audit_app = typer.Typer(no_args_is_help=True, help="The hash-chained audit log of verdicts")
console = Console(width=160)


@policy_app.command("check")
def check(file: Annotated[Path, typer.Argument(help="policy TOML")]) -> None:
    """Validate a policy file (exit 0 when valid, 3 with the problems otherwise)."""
    policy = load_policy(file)
    console.print(f"{file.name}: valid")
    console.print(f"  block: {', '.join(sorted(policy.block))}")
    console.print(f"  review: {', '.join(sorted(policy.review))}")
    console.print(f"  dry run: {policy.dry_run}")


@policy_app.command("backtest")
def backtest(
    file: Annotated[Path, typer.Argument(help="candidate policy TOML")],
    since: Annotated[
        datetime | None, typer.Option(help="only disputes filed since this date")
    ] = None,
) -> None:
    """Replay recorded disputes under a candidate policy and show which decisions change.

    Both the current and the candidate policy are replayed on the same stored evidence at
    the same moment, so every difference comes from the policy alone.
    """
    from orderseal.services import build_services

    candidate = load_policy(file)
    services = build_services(Settings())
    current = services.verifier
    trial = current.with_policy(candidate)
    start = since.replace(tzinfo=UTC) if since and since.tzinfo is None else since
    disputes = services.ledger.disputes_since(start)
    changes: Counter[tuple[str, str]] = Counter()
    table = Table(title=f"Decisions that change under {file.name}")
    for column in ("dispute", "order", "recorded", "current policy", "candidate", "rules fired"):
        table.add_column(column)
    now = services.clock()
    for dispute in disputes:
        baseline = current.evaluate_dispute(dispute.dispute_id, now=now)
        proposed = trial.evaluate_dispute(dispute.dispute_id, now=now)
        before, after = _effective(baseline), _effective(proposed)
        if before != after:
            changes[(before, after)] += 1
            fired = ", ".join(r.rule for r in proposed.policy_trace if r.fired) or "-"
            table.add_row(
                dispute.dispute_id, dispute.order_id, dispute.decision or "-", before, after, fired
            )
    console.print(f"{len(disputes)} disputes replayed, {sum(changes.values())} decisions change")
    for (before, after), count in sorted(changes.items()):
        console.print(f"  {before} -> {after}: {count}")
    if changes:
        console.print(table)


def _effective(verdict: VerdictOut) -> str:
    return verdict.policy_decision.value


@policy_app.command("explain")
def explain(
    dispute_id: Annotated[str, typer.Argument(help="dispute id")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Print the trace of a dispute's latest verdict: failed checks and policy rules."""
    from orderseal.services import build_services

    services = build_services(Settings())
    history = services.verifier.history(dispute_id)
    if not history:
        console.print(f"{dispute_id}: not decided yet")
        raise typer.Exit(2)
    verdict = history[-1]
    if as_json:
        print(verdict.model_dump_json(indent=2))
        return
    console.print(
        f"[bold]{dispute_id}[/]: {verdict.decision} (policy decision {verdict.policy_decision})"
    )
    for reason in verdict.reasons:
        console.print(f"  reason {reason.code}: {reason.message}")
    for evidence in verdict.evidence:
        console.print(f"  file {evidence.filename}: {evidence.decision}")
        for item in evidence.checks:
            mark = "pass" if item.passed else f"FAIL {item.code}"
            console.print(f"    {item.check:<22} {mark:<28} {item.detail}")
    for rule in verdict.policy_trace:
        console.print(
            f"  rule {rule.rule:<20} {'FIRED' if rule.fired else 'silent':<7} {rule.detail}"
        )


@audit_app.command("verify")
def verify() -> None:
    """Check the whole audit chain: exit 0 when intact, 1 at the first broken entry."""
    from orderseal.services import build_services

    services = build_services(Settings())
    finding = services.verifier.verify_audit(services.keys.trust_list())
    if finding.ok:
        console.print(f"audit chain intact: {finding.entries} entries")
        return
    console.print(
        f"[red]audit chain broken at entry {finding.failed_at}[/] "
        f"(dispute {finding.dispute_id}): {finding.problem}"
    )
    raise typer.Exit(1)
