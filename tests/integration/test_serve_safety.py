"""Operator mistakes refused at start (issue 14.19, 14.20), through the real ``orderseal`` CLI.

Adversary: the operator's own mistake. A deployment that forgot ``orderseal init`` must not
come up on a development CA; a misspelled setting must not fall back to a default silently.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.support.servers import ORDERSEAL

EXIT_INPUT_ERROR = 3


def _env(home: Path, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.upper().startswith("ORDERSEAL_")}
    # The suite's own variables stay: they are allowed by their documented prefix.
    base.update({k: v for k, v in os.environ.items() if k.upper().startswith("ORDERSEAL_TEST_")})
    base["ORDERSEAL_TEST_MARKER"] = "allowed"
    return {**base, "ORDERSEAL_HOME": str(home), "ORDERSEAL_PORT": str(free_port()), **extra}


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ORDERSEAL), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_serve_refuses_an_uninitialised_home(tmp_path: Path) -> None:
    home = tmp_path / "empty"
    result = _run(["serve"], _env(home))
    assert result.returncode == EXIT_INPUT_ERROR
    assert "home_not_initialized" in result.stdout
    assert not (home / "keys").exists()
    assert not (home / "credentials.json").exists()


@pytest.mark.parametrize(
    ("args", "extra"),
    [(["serve", "--dev"], {}), (["serve"], {"ORDERSEAL_DEV": "1"})],
    ids=["flag", "environment"],
)
def test_serve_creates_a_development_home_only_when_asked(
    tmp_path: Path, args: list[str], extra: dict[str, str]
) -> None:
    home = tmp_path / "dev"
    secret = "not-in-the-log-7f3a"
    env = _env(
        home,
        ORDERSEAL_S3_SECRET_KEY=secret,
        ORDERSEAL_RATE_LIMIT_REDIS_URL=f"redis://user:{secret}@127.0.0.1:1/0",
        **extra,
    )
    log = tmp_path / "serve.log"
    process = subprocess.Popen(
        [str(ORDERSEAL), *args],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{env['ORDERSEAL_PORT']}/healthz"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url, timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        assert httpx.get(url, timeout=2).status_code == 200
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    assert (home / "credentials.json").exists()
    text = log.read_text()
    assert secret not in text
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    effective = next(line["settings"] for line in lines if line["message"] == "effective settings")
    assert effective["s3_secret_key"] == "***"
    assert effective["rate_limit_redis_url"] == "redis://user:***@127.0.0.1:1/0"


def test_misspelled_setting_is_refused_with_the_closest_name(tmp_path: Path) -> None:
    env = _env(tmp_path / "h", ORDERSEAL_DATABSE_URL="postgresql+psycopg://x@127.0.0.1:1/x")
    for args in (["serve", "--dev"], ["db", "current"]):
        result = _run(args, env)
        assert result.returncode == EXIT_INPUT_ERROR
        assert "unknown_setting" in result.stdout
        assert "ORDERSEAL_DATABASE_URL" in result.stdout
    assert not (tmp_path / "h").exists()


def test_setting_of_the_wrong_shape_is_an_input_error(tmp_path: Path) -> None:
    result = _run(["db", "current"], _env(tmp_path / "h", ORDERSEAL_METRICS="public"))
    assert result.returncode == EXIT_INPUT_ERROR
    assert "invalid_setting" in result.stdout


def test_db_current_names_the_database_without_its_password(tmp_path: Path) -> None:
    url = "postgresql+psycopg://postgres:hunter2-secret@127.0.0.1:5432/test"
    result = _run(["db", "current"], _env(tmp_path / "h", ORDERSEAL_DATABASE_URL=url))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "database: postgresql+psycopg://postgres:***@127.0.0.1:5432/test" in result.stdout
    assert "hunter2-secret" not in result.stdout
    home = tmp_path / "lite"
    local = _run(["db", "current"], _env(home))
    assert f"database: sqlite:///{home.resolve() / 'ledger.sqlite3'}" in local.stdout
