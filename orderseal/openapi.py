"""The published API contract: docs/openapi.json is what ``create_app`` serves at /openapi.json.

``orderseal openapi --output docs/openapi.json`` (or ``make openapi``) rewrites the file; a test
(``tests/unit/orderseal/test_openapi.py``) regenerates it and fails on any drift, so a route
added without regenerating the file is caught in CI. The spec depends on code only: it is built
in a throwaway home with the settings that decide which routes exist pinned (``/metrics`` is
served to the admin key), whatever the environment says.
"""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

from infra.settings import Settings

__all__ = ["PUBLISHED", "REGENERATE", "build_spec", "published_spec", "spec_to_json"]

#: Where the published copy lives, relative to the repository root.
PUBLISHED = Path("docs/openapi.json")
#: The one-liner that rewrites it (the drift test prints it).
REGENERATE = "make openapi  (or: orderseal openapi --output docs/openapi.json)"

#: Settings that decide which routes the app serves: pinned for the published spec.
_SPEC_SETTINGS: dict[str, object] = {"metrics": "admin"}


def build_spec(settings: Settings) -> dict[str, Any]:
    """The OpenAPI document of the app built from ``settings`` (an initialised home).

    Args:
        settings: configuration of an initialised home; route-deciding settings are pinned.

    Returns:
        The document ``/openapi.json`` answers.
    """
    from orderseal.app import create_app

    pinned = settings.model_copy(update=_SPEC_SETTINGS)
    spec: dict[str, Any] = create_app(pinned).openapi()
    return spec


def published_spec() -> dict[str, Any]:
    """The spec built in a throwaway home on the embedded backends (SQLite, local folder)."""
    from orderseal.bootstrap import initialize_home

    with tempfile.TemporaryDirectory(prefix="orderseal-openapi-") as home:
        settings = Settings(home=Path(home), database_url="", storage="local", **_SPEC_SETTINGS)  # type: ignore[arg-type]
        # Building a home talks (the dev CA warns); stdout carries only the spec.
        with contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            initialize_home(settings, quiet_dev_warning=True)
            return build_spec(settings)


def spec_to_json(spec: dict[str, Any]) -> str:
    """The published text: two-space indent, FastAPI's key order, a final newline."""
    return json.dumps(spec, indent=2, ensure_ascii=False) + "\n"
