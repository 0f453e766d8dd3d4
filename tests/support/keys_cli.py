"""Run ``orderseal keys ...`` with a test's settings: in this process, or as the binary.

In-process (``orderseal.cli.main``, tests/support/cli.py) is the default: the same parsing,
errors and exit statuses without an interpreter start per call. ``process=True`` runs the
installed binary, for tests whose point is the process: what it prints to its own streams,
or a native library (PKCS#11, boto3's KMS client) loaded once per process.
"""

from __future__ import annotations

from infra.settings import Settings
from tests.support.cli import CLIRun, run_main, run_process

__all__ = ["check_keys", "run_keys"]


def run_keys(
    settings: Settings, *args: str, env: dict[str, str] | None = None, process: bool = False
) -> CLIRun:
    """``orderseal keys ARGS`` under ``settings``; the caller checks the exit status."""
    run = run_process if process else run_main
    return run(settings, "keys", *args, env=env)


def check_keys(
    settings: Settings, *args: str, env: dict[str, str] | None = None, process: bool = False
) -> str:
    """Run ``orderseal keys ARGS`` and return stdout; fails the test on a non-zero exit."""
    result = run_keys(settings, *args, env=env, process=process)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout
