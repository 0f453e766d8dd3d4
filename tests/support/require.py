"""One rule for a real service or tool a test needs but the machine lacks.

Under CI (``CI=true``) a missing part fails the run: CI installs everything, so a missing part
is a broken setup, never a reason to pass. On a developer's machine the test is skipped with the
reason, so a partial setup still runs the rest.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

__all__ = ["missing", "under_ci"]


def under_ci() -> bool:
    """Whether this run is CI's (``CI=true``, as ``.ci/run`` and the fresh-clone check set)."""
    return os.environ.get("CI", "").lower() == "true"


def missing(reason: str) -> NoReturn:
    """Fail under CI, skip elsewhere, naming what is missing and how to get it."""
    if under_ci():
        pytest.fail(reason)
    pytest.skip(reason)
