"""Deployment files name only settings the application knows and run what the tests run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from infra.settings import Settings
from tests.support.paths import repo_root

DEPLOY = ["Dockerfile", "compose.yaml", "orderseal.service"]


def _text(name: str) -> str:
    return (repo_root() / "infra" / "deploy" / name).read_text()


@pytest.mark.parametrize("name", DEPLOY, ids=DEPLOY)
def test_only_known_settings(name: str) -> None:
    named = set(re.findall(r"ORDERSEAL_([A-Z0-9_]+)", _text(name)))
    known = {field.upper() for field in Settings.model_fields}
    assert named, "a deployment file that configures nothing is suspicious"
    assert named <= known, f"unknown settings: {sorted(named - known)}"


def _words(text: str) -> str:
    return " ".join(re.sub(r"[\"'\[\],()]", " ", text).split())


@pytest.mark.parametrize("name", DEPLOY, ids=DEPLOY)
def test_runs_the_command_the_tests_start(name: str) -> None:
    started_by_tests = _words((repo_root() / "tests" / "support" / "servers.py").read_text())
    assert "ORDERSEAL serve --workers" in started_by_tests
    assert "orderseal serve --workers" in _words(_text(name))


def test_seaweed_flags_match_the_test_server() -> None:
    compose = _text("compose.yaml")
    support = Path(repo_root() / "tests" / "support" / "seaweed.py").read_text()
    for flag in (
        "mini",
        "-s3.config",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-admin.ui=false",
        "-webdav=false",
    ):
        assert flag in compose
        assert flag.split("=")[0] in support
