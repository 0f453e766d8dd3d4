"""Running a typer command as an operator's tool: one line per failure, never a traceback.

Both ``orderseal`` and ``orderseal-station`` exit 0 on success, 3 (``EXIT_INPUT_ERROR``) with
``error <code>: <message>`` for one of our errors or ``usage error ...`` for a bad command
line (an error with its own ``exit_code``, such as the station's, exits with that), and 4
with the exception's name for anything else.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NoReturn

import typer
from rich.console import Console

from wire.errors import OrderSealError

__all__ = ["EXIT_INPUT_ERROR", "EXIT_UNEXPECTED", "run_command"]

EXIT_INPUT_ERROR = 3
EXIT_UNEXPECTED = 4
# typer vendors its click, so its usage errors are matched by class name.
_USAGE_ERRORS = frozenset({"UsageError", "BadParameter", "NoSuchOption", "MissingParameter"})


def run_command(invoke: Callable[[], object], console: Console) -> NoReturn:
    """Call ``invoke`` (a typer app with ``standalone_mode=False``) and exit with its status."""
    try:
        status = invoke()
        sys.exit(status if isinstance(status, int) else 0)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except OrderSealError as exc:
        console.print(f"[red]error[/] {exc.code}: {exc.message}", highlight=False)
        # An error may name its own status (the station's, clients/station/errors.py).
        status = getattr(exc, "exit_code", EXIT_INPUT_ERROR)
        sys.exit(status if isinstance(status, int) else EXIT_INPUT_ERROR)
    except Exception as exc:  # noqa: BLE001 - last resort: one line, no traceback, distinct status
        if exc.__class__.__name__ in _USAGE_ERRORS:
            console.print(f"[red]usage error[/] {exc}", highlight=False)
            sys.exit(EXIT_INPUT_ERROR)
        console.print(f"[red]error[/] {exc.__class__.__name__}: {exc}", highlight=False)
        sys.exit(EXIT_UNEXPECTED)
