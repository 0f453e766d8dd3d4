"""Run ``orderseal keys ...`` as a subprocess with a test's settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from infra.settings import Settings
from tests.support.databases import settings_env

ORDERSEAL = Path(sys.executable).parent / "orderseal"


def run_keys(
    settings: Settings, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``orderseal keys ARGS`` under ``settings``; the caller checks the exit status."""
    return subprocess.run(
        [str(ORDERSEAL), "keys", *args],
        env={**os.environ, **settings_env(settings), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def check_keys(settings: Settings, *args: str, env: dict[str, str] | None = None) -> str:
    """Run ``orderseal keys ARGS`` and return stdout; fails the test on a non-zero exit."""
    result = run_keys(settings, *args, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout
