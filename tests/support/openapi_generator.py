"""openapi-python-client, kept beside the environment, generating a client package from a spec.

The generator is not a dev dependency: its release pins typer below the version the station
tool uses, so installing it into the project's environment would downgrade typer. It is
installed once with pip into its own folder next to the environment (``<venv>/openapi-python-
client-<version>``) and run from there as a child process; the generated package is then
imported by the test like any installed client.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.require import missing

__all__ = ["GENERATOR_VERSION", "PACKAGE", "generate_client"]

GENERATOR_VERSION = "0.29.1"
#: The generated package's import name.
PACKAGE = "orderseal_api_client"
_CONFIG = (
    "post_hooks: []\n"
    "project_name_override: orderseal-api-client\n"
    f"package_name_override: {PACKAGE}\n"
)


def _generator() -> Path:
    """The generator's folder, installed on first use."""
    target = Path(sys.prefix) / f"openapi-python-client-{GENERATOR_VERSION}"
    if (target / "openapi_python_client").is_dir():
        return target
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    installed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--target",
            str(partial),
            f"openapi-python-client=={GENERATOR_VERSION}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if installed.returncode != 0:
        missing(
            f"openapi-python-client {GENERATOR_VERSION} could not be installed with pip "
            f"({installed.stderr.strip()[-300:]})"
        )
    partial.rename(target)
    return target


def generate_client(spec_path: Path, out: Path) -> Path:
    """Generate a client package from ``spec_path`` under ``out``.

    Returns:
        The folder to put on ``sys.path`` to import :data:`PACKAGE`.
    """
    generator = _generator()
    config = out / "config.yml"
    config.write_text(_CONFIG)
    environment = {**os.environ, "PYTHONPATH": str(generator)}
    generated = subprocess.run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            str(spec_path),
            "--config",
            str(config),
            "--output-path",
            str(out / "client"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        cwd=out,
        check=False,
    )
    package = out / "client" / PACKAGE
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert package.is_dir(), generated.stdout
    return out / "client"
