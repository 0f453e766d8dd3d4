"""Health, readiness, metrics and request IDs on the live API."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine

from infra.db import session_factory
from infra.ledger.repository import Ledger
from infra.observability import JSONLogFormatter, request_id_var
from infra.settings import Settings
from orderseal.app import create_app
from orderseal.server import serve_in_thread
from orderseal.services import build_services
from tests.conftest import free_port
from tests.support import flows
from tests.support.servers import start_server


def test_healthz_and_readyz(live_api: str) -> None:
    assert httpx.get(f"{live_api}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{live_api}/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "storage": "ok"}


def test_request_id_is_echoed_or_made(live_api: str) -> None:
    given = httpx.get(f"{live_api}/healthz", headers={"X-Request-ID": "req-42"})
    assert given.headers["x-request-id"] == "req-42"
    made = httpx.get(f"{live_api}/healthz")
    assert len(made.headers["x-request-id"]) == 16


def test_metrics_count_seals_and_verdicts(
    live_api: str, credentials: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    work = tmp_path_factory.mktemp("metrics")
    cast = flows.actors(live_api, credentials)
    order_id = flows.register_order(cast)
    shipped = flows.ship(cast, order_id, work)
    files = flows.receive(cast, shipped, work)
    flows.dispute(cast, order_id, files)
    admin = {"Authorization": f"Bearer {credentials['admin']}"}
    text = httpx.get(f"{live_api}/metrics", headers=admin).text
    assert 'orderseal_seals_total{media_type="image/jpeg",stage="shipment"}' in text
    assert 'orderseal_seals_total{media_type="image/jpeg",stage="receipt"}' in text
    assert 'orderseal_verdicts_total{decision="allow"}' in text
    assert 'route="/v1/shipment-sessions/{session_id}/evidence"' in text


def test_log_lines_are_json_with_the_request_id() -> None:
    formatter = JSONLogFormatter()
    token = request_id_var.set("req-7")
    try:
        record = logging.LogRecord(
            "orderseal", logging.INFO, __file__, 1, "sealed %s", ("ev_1",), None
        )
        line = json.loads(formatter.format(record))
    finally:
        request_id_var.reset(token)
    assert line["request_id"] == "req-7"
    assert line["message"] == "sealed ev_1"
    assert line["level"] == "info"


def test_readyz_reports_an_unreachable_database(settings: Settings) -> None:
    broken = settings.model_copy(update={"port": free_port()})
    services = build_services(broken)
    dead = create_engine(
        "postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 2}
    )
    services.ledger = Ledger(session_factory(dead))
    with serve_in_thread(create_app(broken, services=services), host="127.0.0.1", port=broken.port):
        answer = httpx.get(f"{broken.base_url}/readyz")
    assert answer.status_code == 503
    assert answer.json() == {
        "status": "unavailable",
        "checks": {"database": "ledger_unavailable", "storage": "ok"},
    }


def _healthz_count(base_url: str, headers: dict[str, str] | None = None) -> float:
    families = text_string_to_metric_families(
        httpx.get(f"{base_url}/metrics", headers=headers or {}).text
    )
    return sum(
        sample.value
        for family in families
        for sample in family.samples
        if sample.name == "orderseal_http_request_duration_seconds_count"
        and sample.labels.get("route") == "/healthz"
    )


def _json_lines(log: Path) -> list[dict[str, object]]:
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    return [json.loads(line) for line in lines]  # a non-JSON line fails here


def test_serve_with_two_workers_sums_metrics_and_logs_json(
    settings: Settings, credentials: dict[str, str], tmp_path: Path
) -> None:
    """``orderseal serve --workers 2`` as deployed: one scrape counts both workers' requests."""
    server = start_server(settings, tmp_path / "serve.log", port=free_port(), workers=2)
    try:
        sent = 0
        pids: set[object] = set()
        # Fresh connections until both workers have answered (the kernel picks the worker).
        while len(pids) < 2 and sent < 400:
            for _ in range(10):
                answer = httpx.get(f"{server.url}/healthz", headers={"X-Request-ID": f"p-{sent}"})
                assert answer.headers["x-request-id"] == f"p-{sent}"
                sent += 1
            pids = {
                line["pid"] for line in _json_lines(server.log) if line.get("route") == "/healthz"
            }
        assert len(pids) == 2
        admin = {"Authorization": f"Bearer {credentials['admin']}"}
        assert [_healthz_count(server.url, admin) for _ in range(4)] == [float(sent)] * 4
    finally:
        server.kill()
    lines = _json_lines(server.log)
    probes = [line for line in lines if line.get("route") == "/healthz"]
    assert sorted(str(line["request_id"]) for line in probes) == sorted(
        f"p-{i}" for i in range(sent)
    )
    assert all(line["status"] == 200 and line["logger"] == "orderseal.access" for line in probes)


# /metrics exposure (issue 14.15): an anonymous scraper on the API port learns no volumes ------
def test_metrics_need_the_admin_key_by_default(live_api: str, credentials: dict[str, str]) -> None:
    def code(headers: dict[str, str]) -> tuple[int, str]:
        answer = httpx.get(f"{live_api}/metrics", headers=headers)
        return answer.status_code, answer.json()["error"]["code"]

    assert code({}) == (401, "credentials_missing")
    assert code({"Authorization": f"Bearer {credentials['agent']}"}) == (403, "wrong_role")
    admin = httpx.get(
        f"{live_api}/metrics", headers={"Authorization": f"Bearer {credentials['admin']}"}
    )
    assert admin.status_code == 200
    assert "orderseal_http_request_duration_seconds" in admin.text


def test_metrics_off_serves_none(settings: Settings, credentials: dict[str, str]) -> None:
    off = settings.model_copy(update={"port": free_port(), "metrics": "off"})
    with serve_in_thread(create_app(off), host="127.0.0.1", port=off.port):
        answer = httpx.get(
            f"{off.base_url}/metrics", headers={"Authorization": f"Bearer {credentials['admin']}"}
        )
    assert (answer.status_code, answer.json()["error"]["code"]) == (404, "not_found")


def test_metrics_bind_serves_them_on_their_own_listener_only(
    settings: Settings, credentials: dict[str, str], tmp_path: Path
) -> None:
    metrics_port = free_port()
    bound = settings.model_copy(update={"metrics": f"bind:127.0.0.1:{metrics_port}"})
    server = start_server(bound, tmp_path / "serve.log", port=free_port())
    try:
        for _ in range(3):
            assert httpx.get(f"{server.url}/healthz").status_code == 200
        admin = {"Authorization": f"Bearer {credentials['admin']}"}
        on_api = httpx.get(f"{server.url}/metrics", headers=admin)
        assert (on_api.status_code, on_api.json()["error"]["code"]) == (404, "not_found")
        assert _healthz_count(f"http://127.0.0.1:{metrics_port}") >= 3
    finally:
        server.kill()
