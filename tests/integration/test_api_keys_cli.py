"""``orderseal keys api``: operators add, list, rotate and revoke API keys on a real home.

The adversaries: an operator's shell history, terminal scrollback and logs (a secret is
generated, never typed, shown once on stdout and never again, never in a file or a log line);
a revoked key's holder; a rotated-out key after its overlap; an agent key on an admin route.
Refused keys all get 401 ``credentials_invalid``, the same answer as an unknown key.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from infra.errors import OrderSealError
from infra.ledger.api_keys import LAST_USED_GRANULARITY, hash_api_key
from infra.settings import Settings
from orderseal.app import create_app
from orderseal.cli import app
from orderseal.server import serve_in_thread
from orderseal.services import Services, utc_now
from tests.conftest import free_port
from tests.support.databases import settings_env
from tests.support.keys_cli import run_keys

_SECRET = re.compile(r"osk_(platform|agent|admin)_[A-Za-z0-9_-]{43}")
_KEY_ID = re.compile(r"kid_[0-9a-f]{16}")
#: An admin-only route and an agent-only one (no such evidence: 404 once authenticated).
_ADMIN_ROUTE = "/metrics"
_AGENT_ROUTE = "/v1/evidence/ev_none/file"
_PLATFORM_ROUTE = "/v1/disputes/dsp_none"


def _cli(settings: Settings, *args: str) -> Result:
    return CliRunner().invoke(app, ["keys", "api", *args], env=settings_env(settings))


def _ok(settings: Settings, *args: str) -> Result:
    result = _cli(settings, *args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def _refused(settings: Settings, *args: str) -> str:
    """The error code a command was refused with."""
    result = _cli(settings, *args)
    assert isinstance(result.exception, OrderSealError), (result.output, result.exception)
    return result.exception.code


def _add(settings: Settings, role: str, subject: str, *extra: str) -> tuple[str, str]:
    """(key id, secret) of a new key."""
    result = _ok(settings, "add", "--role", role, "--subject", subject, *extra)
    secret = result.stdout.strip()
    assert _SECRET.fullmatch(secret), "stdout holds exactly the secret"
    key_id = _KEY_ID.search(result.stderr)
    assert key_id is not None, result.stderr
    return key_id[0], secret


def _rotate(settings: Settings, key_id: str, *extra: str) -> tuple[str, str]:
    result = _ok(settings, "rotate", key_id, *extra)
    secret = result.stdout.strip()
    assert _SECRET.fullmatch(secret)
    new_ids = set(_KEY_ID.findall(result.stderr)) - {key_id}
    assert len(new_ids) == 1, result.stderr
    return new_ids.pop(), secret


def _listed(settings: Settings) -> dict[str, dict[str, Any]]:
    rows = json.loads(_ok(settings, "list", "--json").stdout)
    return {row["key_id"]: row for row in rows}


_CLOCK = [utc_now()]


@pytest.fixture(scope="module")
def http(services: Services) -> Iterator[httpx.Client]:
    """The real app over the module's ledger and a real server, with a clock tests move."""
    clocked = dataclasses.replace(services, clock=lambda: _CLOCK[0])
    port = free_port()
    with (
        serve_in_thread(
            create_app(services.settings, services=clocked), host="127.0.0.1", port=port
        ),
        httpx.Client(base_url=f"http://127.0.0.1:{port}") as client,
    ):
        yield client


@pytest.fixture(autouse=True)
def clock() -> list[datetime]:
    """The app's clock, at the wall clock when the test starts: set ``clock[0]`` to move it."""
    _CLOCK[0] = utc_now()
    return _CLOCK


def _answer(http: httpx.Client, path: str, secret: str) -> tuple[int, str]:
    response = http.get(path, headers={"Authorization": f"Bearer {secret}"})
    if response.status_code == 200:
        return 200, "ok"
    return response.status_code, response.json()["error"]["code"]


def _refusal(http: httpx.Client, secret: str) -> dict[str, Any]:
    body: dict[str, Any] = http.get(
        _ADMIN_ROUTE, headers={"Authorization": f"Bearer {secret}"}
    ).json()
    return body


# add and list ------------------------------------------------------------------------------
def test_add_shows_the_secret_once_on_stdout_and_nowhere_else(
    settings: Settings, http: httpx.Client
) -> None:
    result = _ok(settings, "add", "--role", "admin", "--subject", "ops-1", "--label", "grafana")
    secret = result.stdout.strip()
    assert _SECRET.fullmatch(secret)
    assert "shown only this once" in result.stderr
    assert secret not in result.stderr
    assert _answer(http, _ADMIN_ROUTE, secret) == (200, "ok")
    for listing in (_ok(settings, "list"), _ok(settings, "list", "--json")):
        assert secret not in listing.output
        assert hash_api_key(secret) not in listing.output
    # Only the ledger's hash is kept: no file in the home (the SQLite ledger included) holds it.
    home = settings.resolved_home
    for path in home.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path.relative_to(home)


def test_list_names_each_key_without_secrets(settings: Settings) -> None:
    key_id, _ = _add(settings, "agent", "agent-desk-4", "--label", "desk 4")
    listed = _listed(settings)
    assert listed[key_id] == {
        "key_id": key_id,
        "role": "agent",
        "subject": "agent-desk-4",
        "label": "desk 4",
        "created_at": listed[key_id]["created_at"],
        "expires_at": None,
        "revoked_at": None,
        "replaced_by": None,
        "last_used_at": None,
        "merchant_id": None,
        "state": "active",
    }
    # The keys `orderseal init` wrote were given ids too.
    assert {row["subject"] for row in listed.values()} >= {
        "platform-operator",
        "agent-operator",
        "admin-operator",
    }
    table = _ok(settings, "list").stdout
    assert key_id in table
    assert "agent-desk-4" in table


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("--role", "station", "--subject", "s"), None),
        (("--role", "admin", "--subject", "has space"), "invalid_input"),
        (("--role", "admin", "--subject", ""), "invalid_input"),
        (("--role", "admin", "--subject", "s", "--label", "x" * 65), "invalid_input"),
        (("--role", "admin", "--subject", "s", "--label", "bell\a"), "invalid_input"),
    ],
    ids=["station-role", "subject-space", "subject-empty", "label-long", "label-control"],
)
def test_add_refuses_bad_input(settings: Settings, args: tuple[str, ...], code: str) -> None:
    result = _cli(settings, "add", *args)
    assert result.exit_code != 0
    if code is not None:
        assert isinstance(result.exception, OrderSealError)
        assert result.exception.code == code


def test_last_use_is_recorded_at_most_once_per_granularity(
    settings: Settings, http: httpx.Client, clock: list[datetime]
) -> None:
    key_id, secret = _add(settings, "admin", "scraper")
    assert _answer(http, _ADMIN_ROUTE, secret) == (200, "ok")
    first = _listed(settings)[key_id]["last_used_at"]
    assert first == clock[0].isoformat()
    clock[0] += LAST_USED_GRANULARITY - timedelta(seconds=1)
    assert _answer(http, _ADMIN_ROUTE, secret) == (200, "ok")
    assert _listed(settings)[key_id]["last_used_at"] == first
    clock[0] += timedelta(seconds=1)
    assert _answer(http, _ADMIN_ROUTE, secret) == (200, "ok")
    assert _listed(settings)[key_id]["last_used_at"] == clock[0].isoformat()


# revoke ------------------------------------------------------------------------------------
def test_revoked_key_is_refused_at_once_like_an_unknown_key(
    settings: Settings, http: httpx.Client
) -> None:
    key_id, secret = _add(settings, "admin", "leaver")
    assert _answer(http, _ADMIN_ROUTE, secret) == (200, "ok")
    result = _ok(settings, "revoke", key_id)
    assert key_id in result.stderr
    assert result.stdout == ""
    assert _answer(http, _ADMIN_ROUTE, secret) == (401, "credentials_invalid")
    unknown = "osk_admin_" + "A" * 43
    assert _refusal(http, secret) == _refusal(http, unknown)
    assert _listed(settings)[key_id]["state"] == "revoked"
    # Revoking again keeps the first time; rotating a revoked key is refused.
    first = _listed(settings)[key_id]["revoked_at"]
    _ok(settings, "revoke", key_id)
    assert _listed(settings)[key_id]["revoked_at"] == first
    assert _refused(settings, "rotate", key_id) == "api_key_inactive"


@pytest.mark.parametrize(
    "key_id",
    ["kid_0000000000000000", "kid_nothex", "osk_admin_" + "A" * 43],
    ids=["unknown-id", "malformed-id", "a-secret-instead"],
)
def test_unknown_key_ids_are_refused(settings: Settings, key_id: str) -> None:
    assert _refused(settings, "revoke", key_id) == "api_key_not_found"
    assert _refused(settings, "rotate", key_id) == "api_key_not_found"


# rotate ------------------------------------------------------------------------------------
def test_rotated_key_works_until_the_overlap_ends(
    settings: Settings, http: httpx.Client, clock: list[datetime]
) -> None:
    old_id, old = _add(settings, "agent", "agent-desk-9", "--label", "desk 9")
    new_id, new = _rotate(settings, old_id, "--overlap", "2h")
    listed = _listed(settings)
    assert listed[old_id]["replaced_by"] == new_id
    assert listed[old_id]["state"] == "expiring"
    ends = datetime.fromisoformat(listed[old_id]["expires_at"])
    assert clock[0] + timedelta(hours=2) <= ends <= utc_now() + timedelta(hours=2)
    # Same role and subject, the old label, no expiry.
    assert {k: listed[new_id][k] for k in ("role", "subject", "label", "expires_at")} == {
        "role": "agent",
        "subject": "agent-desk-9",
        "label": "desk 9",
        "expires_at": None,
    }
    for at, old_answer in (
        (ends - timedelta(seconds=1), (404, "evidence_not_found")),
        (ends, (401, "credentials_invalid")),
        (ends + timedelta(seconds=1), (401, "credentials_invalid")),
    ):
        clock[0] = at
        assert _answer(http, _AGENT_ROUTE, old) == old_answer, at
        assert _answer(http, _AGENT_ROUTE, new) == (404, "evidence_not_found"), at
    # The role stays bound: the replacement agent key is no admin key.
    assert _answer(http, _ADMIN_ROUTE, new) == (403, "wrong_role")
    # After the overlap the old key answers as an unknown one does.
    assert _refusal(http, old) == _refusal(http, "osk_agent_" + "B" * 43)
    # A rotated key is not rotated twice; its replacement is.
    assert _refused(settings, "rotate", old_id) == "api_key_inactive"
    _rotate(settings, new_id, "--overlap", "0", "--label", "desk 9b")


def test_rotation_with_no_overlap_refuses_the_old_key_at_once(
    settings: Settings, http: httpx.Client, clock: list[datetime]
) -> None:
    old_id, old = _add(settings, "platform", "shop-1")
    _, new = _rotate(settings, old_id, "--overlap", "0")
    clock[0] = utc_now()
    assert _answer(http, _PLATFORM_ROUTE, old) == (401, "credentials_invalid")
    assert _answer(http, _PLATFORM_ROUTE, new) == (404, "dispute_not_found")


@pytest.mark.parametrize(
    "overlap",
    ["-1h", "1w", "24 h", "31d", "1.5h", ""],
    ids=["negative", "weeks", "space", "over-30-days", "fraction", "empty"],
)
def test_rotate_refuses_a_bad_overlap_and_keeps_the_key(
    settings: Settings, http: httpx.Client, overlap: str
) -> None:
    key_id, secret = _add(settings, "admin", "ops-overlap")
    result = _cli(settings, "rotate", key_id, "--overlap", overlap)
    assert result.exit_code != 0
    assert _listed(settings)[key_id]["state"] == "active"
    assert _answer(http, _ADMIN_ROUTE, secret) == (200, "ok")


# logs --------------------------------------------------------------------------------------
def test_logs_name_the_key_id_never_the_secret(
    settings: Settings, http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    key_id, secret = _add(settings, "admin", "logged")
    with caplog.at_level(logging.INFO):
        assert _answer(http, _ADMIN_ROUTE, secret) == (200, "ok")
        _ok(settings, "revoke", key_id)
        assert _answer(http, _ADMIN_ROUTE, secret) == (401, "credentials_invalid")
    fields = [getattr(record, "fields", {}) for record in caplog.records]
    access = [f for f in fields if f.get("route") == _ADMIN_ROUTE]
    assert [(f["status"], f.get("key_id")) for f in access] == [(200, key_id), (401, key_id)]
    assert {"key_id": key_id, "key_state": "revoked"} in fields
    for record in caplog.records:
        text = record.getMessage() + repr(record.__dict__)
        assert secret not in text
        assert hash_api_key(secret) not in text


# the real command --------------------------------------------------------------------------
def test_the_installed_command_adds_and_refuses(settings: Settings, tmp_path: Path) -> None:
    added = run_keys(
        settings, "api", "add", "--role", "agent", "--subject", "sub-proc", process=True
    )
    assert added.returncode == 0, added.stdout + added.stderr
    assert _SECRET.fullmatch(added.stdout.strip())
    assert "shown only this once" in added.stderr
    refused = run_keys(settings, "api", "revoke", "kid_0000000000000000", process=True)
    assert refused.returncode == 3
    assert "api_key_not_found" in refused.stdout + refused.stderr
    assert "Traceback" not in refused.stdout + refused.stderr
