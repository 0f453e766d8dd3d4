"""The ``orderseal`` command: init, serve, demo, openapi, verify."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from clients.commands import run_command
from infra.errors import InputError, OrderSealError
from infra.settings import Settings
from orderseal.bootstrap import initialize_home, load_credentials
from verifier.reasons import ReasonCode

_log = logging.getLogger("orderseal.serve")

__all__ = ["app", "main"]

app = typer.Typer(no_args_is_help=True, add_completion=False, help="OrderSeal provenance service")
# Wide enough for report URLs when output is piped (CI logs), normal sizing on a terminal.
console = Console(width=None if sys.stdout.isatty() else 160)


def _mount_subcommands() -> None:
    from orderseal.dbcli import db_app
    from orderseal.flaggedcli import flagged_app
    from orderseal.verifier_cli import audit_app, policy_app

    app.add_typer(db_app, name="db")
    app.add_typer(flagged_app, name="flagged")
    app.add_typer(policy_app, name="policy")
    app.add_typer(audit_app, name="audit")
    from clients.station.cli import station_app

    app.add_typer(station_app, name="station")
    from orderseal.keys_cli import keys_app

    app.add_typer(keys_app, name="keys")
    from orderseal.merchants_cli import merchants_app

    app.add_typer(merchants_app, name="merchants")


_mount_subcommands()
EXIT_FOR = {"allow": 0, "block": 1, "review": 2}
EXIT_INPUT_ERROR = 3


@app.command()
def init() -> None:
    """Create the home folder: development CA, ledger, operator API keys."""
    settings = Settings()
    path = initialize_home(settings)
    console.print(f"OrderSeal home ready at {settings.resolved_home}")
    console.print(f"Operator API keys (keep private): {path}")


class HomeNotInitializedError(OrderSealError):
    """``serve`` found no CA or no operator credentials in the home (``orderseal init``)."""

    code = "home_not_initialized"
    http_status = 500


def _require_initialized_home(settings: Settings, *, dev: bool) -> None:
    """Refuse an empty home unless the operator asked for a development one by name.

    Raises:
        HomeNotInitializedError: no CA hierarchy or no credentials file, and not ``dev``.
    """
    from keys.store import KeyStore

    home = settings.resolved_home
    ready = KeyStore(home / "keys").initialized and (home / "credentials.json").exists()
    if not ready and not dev:
        # A deployment that forgot `init` must not come up on a development CA whose root
        # key is online, with fresh API keys nobody holds (issue 14.19).
        raise HomeNotInitializedError(
            "expected a home prepared by `orderseal init` (CA and operator credentials), "
            "found none; for a development CA say so: `orderseal serve --dev` or ORDERSEAL_DEV=1"
        )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address")] = None,
    port: Annotated[int | None, typer.Option(help="port")] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="worker processes")] = 1,
    dev: Annotated[
        bool, typer.Option("--dev", help="create a development CA on an empty home")
    ] = False,
) -> None:
    """Serve the API (several stateless workers share the ledger, store and keys).

    Exit 3 with ``home_not_initialized`` on a home without CA or credentials, unless
    ``--dev`` (or ``ORDERSEAL_DEV=1``) asks for a development CA.
    """
    settings = Settings()
    bind = settings.metrics_bind
    with contextlib.ExitStack() as stack:
        if bind is not None and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # Before prometheus-client is imported: every worker, even a single one in this
            # process, then writes samples where the separate listener sums them.
            own = tempfile.mkdtemp(prefix="orderseal-metrics-")
            stack.callback(shutil.rmtree, own, ignore_errors=True)
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = own
        from infra.observability import configure_logging, serve_metrics
        from orderseal.server import run_workers

        configure_logging()
        _log.info("effective settings", extra={"fields": {"settings": settings.redacted()}})
        _require_initialized_home(settings, dev=dev or settings.dev)
        initialize_home(settings)
        if bind is not None:
            stack.enter_context(serve_metrics(*bind))
        # Workers import the app factory themselves; settings come from the same environment.
        run_workers(host=host or settings.host, port=port or settings.port, workers=workers)


@app.command()
def worker() -> None:
    """Deliver webhooks and run background jobs (the loops ``serve`` runs embedded)."""
    from infra.observability import configure_logging
    from orderseal.worker import run_worker

    configure_logging()
    run_worker(Settings())


@app.command()
def demo(
    once: Annotated[bool, typer.Option("--once", help="exit after the scenario")] = False,
) -> None:
    """Run the shipment → receipt → dispute scenario against a local API."""
    from orderseal.app import create_app
    from orderseal.demo import run_scenario
    from orderseal.demo_webhooks import DemoWebhooks
    from orderseal.server import serve_in_thread

    # The demo's own webhook receiver listens on loopback, which production refuses (SSRF).
    settings = Settings(webhook_allow_private_targets=True)
    once = once or os.environ.get("CI", "").lower() in ("1", "true", "yes")
    initialize_home(settings, quiet_dev_warning=True)
    console.print(f"[bold]OrderSeal demo[/] — home {settings.resolved_home}")
    api = create_app(settings)
    credentials = load_credentials(settings)
    with (
        serve_in_thread(api, host=settings.host, port=settings.port),
        DemoWebhooks(
            settings.base_url, credentials["platform"], api.state.services.dispatcher
        ) as webhooks,
    ):
        console.print(f"API listening on {settings.base_url}")
        result = run_scenario(settings.base_url, settings.resolved_home, credentials)
        console.print(
            f"Order {result.order_id}: {len(result.shipment_evidence)} shipment captures sealed"
        )
        console.print(f"Parcel label: {result.label_png}")
        console.print(f"Receipt captures sealed: {', '.join(result.receipt_evidence)}")
        table = Table(title="Disputes")
        for column in ("scenario", "expected", "decision", "reason codes", "report"):
            table.add_column(column, overflow="fold")
        for d in result.disputes:
            style = "green" if d.as_expected else "red"
            table.add_row(
                d.name,
                "/".join(sorted(d.expected)),
                f"[{style}]{d.decision}[/]",
                ", ".join(d.reasons) or "—",
                d.report_url,
            )
        console.print(table)
        recovered = result.recovered
        if recovered is not None:
            found = "recovered" if "manifest_recovered" in recovered.reasons else "NOT recovered"
            console.print(
                f"Stripped copy ({recovered.name}): {found}, judged on its sealed original -> "
                f"{recovered.decision} ({', '.join(recovered.reasons)}) {recovered.report_url}"
            )
        unlabelled = result.unlabelled
        if unlabelled is not None:
            seen = "label not seen" if "label_not_in_capture" in unlabelled.reasons else "seen"
            console.print(
                f"Receipt video ({unlabelled.name}): {seen} -> {unlabelled.decision} "
                f"({', '.join(unlabelled.reasons)}) {unlabelled.report_url}"
            )
        step = result.agent_step
        if step is not None:
            console.print(
                f"Agent {step.agent} decided {step.dispute_id} (review): {step.action} -> "
                f"{step.decision}, note: {step.note}"
            )
            console.print(
                f"Report link (no credentials needed, until {step.report_link_expires_at}): "
                f"{settings.base_url}{step.report_link}"
            )
        seller = result.seller_step
        if seller is not None:
            sold = Table(title=f"Seller {seller.merchant_id}: disputes on order {result.order_id}")
            for column in ("dispute", "decision", "attribution", "reason codes"):
                sold.add_column(column, overflow="fold")
            for dispute_id, decision, attribution, codes in seller.disputes:
                sold.add_row(dispute_id, decision, attribution, ", ".join(codes) or "—")
            console.print(sold)
            # The statement is the seller's text: printed as text, never as console markup.
            console.print(
                f"Seller answered {seller.answered_dispute_id} ({seller.response_id}): "
                f"{escape(seller.statement)} (sealed evidence: {', '.join(seller.evidence_ids)})"
            )
        services = api.state.services
        finding = services.verifier.verify_audit(services.keys.trust_list())
        audit_style = "green" if finding.ok else "red"
        console.print(
            f"Audit chain after the agent's decision: [{audit_style}]"
            f"{'verified' if finding.ok else 'BROKEN: ' + finding.problem}[/] "
            f"({finding.entries} entries)"
        )
        hooks = Table(title="Webhooks received (signatures checked with verify_webhook)")
        for column in ("type", "webhook-id", "subject", "decision / stage"):
            hooks.add_column(column, overflow="fold")
        for event in webhooks.wait_until_delivered():
            data = event.data
            hooks.add_row(
                event.type,
                event.webhook_id,
                str(data.get("dispute_id") or data.get("evidence_id")),
                str(data.get("decision") or data.get("stage")),
            )
        console.print(hooks)
        console.print(
            f"Agent reports need the agent key from {settings.resolved_home / 'credentials.json'}"
        )
        if not result.ok or not finding.ok:
            console.print("[red]some verdicts were not as expected[/]")
            raise typer.Exit(1)
        console.print("[green]every verdict as expected[/]")
        if not once:
            console.print("Serving until Ctrl-C …")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass


@app.command()
def openapi(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write here instead of stdout")
    ] = None,
) -> None:
    """Print the API's OpenAPI document (docs/openapi.json is this output)."""
    from orderseal.openapi import published_spec, spec_to_json

    text = spec_to_json(published_spec())
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text)


@app.command()
def verify(
    file: Annotated[Path, typer.Argument(help="evidence file")],
    order: Annotated[str, typer.Option("--order", help="order id the evidence is for")],
    buyer: Annotated[str | None, typer.Option("--buyer", help="claimant buyer id")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Verify one file: exit 0 allow, 1 block, 2 review, 3 usage or input error."""
    try:
        _verify(file, order, buyer, as_json=as_json)
    except OrderSealError as exc:
        if not as_json:
            raise
        # Machines read --json: an input error is an answer too, with a reason code.
        from verifier.schemas import FileInputErrorOut, InputErrorOut, ReasonOut

        reason = _INPUT_ERROR_REASONS.get(exc.code, ReasonCode.NO_EVIDENCE)
        answer = FileInputErrorOut(
            error=InputErrorOut(code=exc.code, message=exc.message),
            reasons=(ReasonOut(code=reason, message=exc.message),),
        )
        print(answer.model_dump_json(indent=2))
        raise typer.Exit(EXIT_INPUT_ERROR) from exc


#: Input errors of ``orderseal verify`` as reason codes (docs/reason-codes.md).
_INPUT_ERROR_REASONS = {
    "empty_file": ReasonCode.UNSUPPORTED_MEDIA,
    "payload_too_large": ReasonCode.UNSUPPORTED_MEDIA,
    "file_not_found": ReasonCode.NO_EVIDENCE,
    "invalid_request": ReasonCode.NO_EVIDENCE,
}


def _verify(file: Path, order: str, buyer: str | None, *, as_json: bool) -> None:
    from infra.media import receive_chunks
    from orderseal.services import build_services
    from verifier.facts import AttachedFile
    from verifier.schemas import FileVerdictOut

    for value in (order, buyer or ""):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InputError(
                "expected UTF-8 text for --order and --buyer", code="invalid_request"
            ) from exc
    settings = Settings()
    services = build_services(settings)
    if not file.is_file():
        raise OrderSealError(
            f"expected a readable file, found none at {file.name}", code="file_not_found"
        )
    with tempfile.TemporaryDirectory() as scratch, file.open("rb") as handle:
        received = receive_chunks(
            iter(lambda: handle.read(1 << 20), b""),
            Path(scratch),
            max_bytes=settings.max_evidence_bytes,
        )
        verdict = services.verifier.verify_files(
            [AttachedFile(received.path, file.name, received.sha256)],
            order_id=order,
            buyer_id=buyer,
            now=services.clock(),
        )
    if as_json:
        print(FileVerdictOut.from_verdict(verdict).model_dump_json(indent=2))
    else:
        console.print(f"decision: [bold]{verdict.decision.value}[/]")
        for reason in verdict.reasons:
            console.print(f"  {reason.code.value}: {reason.message}")
    raise typer.Exit(EXIT_FOR[verdict.decision.value])


def main() -> None:
    """Entry point: input and usage errors exit 3 with a message, never a traceback."""
    run_command(_invoke, console)


def _invoke() -> object:
    try:
        # Without standalone mode click returns the code of typer.Exit instead of exiting.
        return app(standalone_mode=False)
    except ValidationError as exc:
        # A setting with a value of the wrong shape: the operator's input, not a crash.
        fields = sorted({f"ORDERSEAL_{'_'.join(map(str, e['loc'])).upper()}" for e in exc.errors()})
        raise InputError(f"expected valid {', '.join(fields)}", code="invalid_setting") from exc


if __name__ == "__main__":
    main()
