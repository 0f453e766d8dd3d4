"""Run an ``orderseal`` command in the test process or as the installed binary.

``run_main`` calls ``orderseal.cli:main`` itself, the console script's function: the same
argument parsing, error handling and exit statuses, with the settings passed as the environment
a real process would see, and none of the seconds an interpreter start costs. ``run_process``
starts the installed ``orderseal``; suites keep one or two of those so the binary itself, its
entry point and its argv decoding stay covered.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Mapping
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from unittest import mock

from infra.settings import Settings
from tests.support.databases import settings_env
from tests.support.servers import ORDERSEAL

__all__ = ["CLIRun", "run_main", "run_process"]


@dataclass(frozen=True)
class CLIRun:
    """One command: its exit status and what it printed."""

    returncode: int
    stdout: str
    stderr: str


def run_main(settings: Settings, *args: str, env: Mapping[str, str] | None = None) -> CLIRun:
    """``orderseal ARGS`` through ``orderseal.cli.main`` in this process (``env`` on top)."""
    from orderseal.cli import main

    out, err = io.StringIO(), io.StringIO()
    status: object = 0
    with (
        mock.patch.dict(os.environ, {**settings_env(settings), **(env or {})}),
        mock.patch.object(sys, "argv", ["orderseal", *args]),
        redirect_stdout(out),
        redirect_stderr(err),
    ):
        try:
            main()
        except SystemExit as exc:
            status = exc.code
    code = status if isinstance(status, int) else (0 if status is None else 1)
    return CLIRun(code, out.getvalue(), err.getvalue())


def run_process(settings: Settings, *args: str, env: Mapping[str, str] | None = None) -> CLIRun:
    """``orderseal ARGS`` as the installed binary, in its own process (``env`` on top)."""
    done = subprocess.run(
        [str(ORDERSEAL), *args],
        env={**os.environ, **settings_env(settings), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return CLIRun(done.returncode, done.stdout, done.stderr)
