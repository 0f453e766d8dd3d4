"""The ``orderseal-station`` wheel (packaging/station/): the clients and ``wire``, nothing else.

The wheel is built offline by pip with the in-tree backend, then unpacked and run in a child
Python whose import system refuses the server: FastAPI, SQLAlchemy, c2pa, boto3 and every
server package of ours. The station's command and clients must import and run there.
"""

from __future__ import annotations

import email.parser
import importlib.util
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from types import ModuleType

import pytest
from typer.testing import CliRunner

from tests.support.paths import repo_root

PROJECT = repo_root() / "packaging" / "station"
SHIPPED_PACKAGES = {"clients", "wire"}
ALLOWED_REQUIREMENTS = {"httpx", "cryptography", "typer", "rich"}
#: What a station never installs. The child refuses each, and our server packages with them.
BLOCKED = (
    "fastapi",
    "starlette",
    "sqlalchemy",
    "alembic",
    "c2pa",
    "boto3",
    "botocore",
    "pydantic_settings",
    "orderseal",
    "capture",
    "verifier",
    "evidence",
    "keys",
    "infra",
)

#: Run in the child (``python -I``): block the server, drop the editable install's finder (it
#: would serve ``clients`` from the repository), put the unpacked wheel first, then act.
_CHILD = """
import importlib.abc, sys
BLOCKED = {blocked!r}
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"blocked on a packing station: {{name}}")
        return None
sys.meta_path[:] = [Blocker()] + [
    f for f in sys.meta_path if "__editable__" not in type(f).__module__
]
sys.path.insert(0, {site!r})
import clients.client, clients.station.cli, wire.attestation
for module in (clients.client, clients.station.cli, wire.attestation):
    assert module.__file__.startswith({site!r}), module.__file__
key = clients.client.DeviceKey.generate("station-wheel-1")
assert key.csr_pem().startswith("-----BEGIN CERTIFICATE REQUEST-----")
sys.argv = ["orderseal-station", *{argv!r}]
clients.station.cli.main()
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel as pip builds it, offline: no index, no build isolation."""
    out = tmp_path_factory.mktemp("station-wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--quiet",
            "--wheel-dir",
            str(out),
            str(PROJECT),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    (built,) = out.glob("orderseal_station-*-py3-none-any.whl")
    return built


@pytest.fixture(scope="module")
def site(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel unpacked, as an installer lays it in site-packages."""
    folder = tmp_path_factory.mktemp("station-site")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(folder)  # noqa: S202 - the wheel this module just built
    return folder


def _run_child(site: Path, cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    script = _CHILD.format(blocked=BLOCKED, site=str(site), argv=list(argv))
    return subprocess.run(
        [sys.executable, "-I", "-c", script],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _load_backend(project: Path, name: str) -> ModuleType:
    """The in-tree backend of ``project``, imported under its own module name."""
    spec = importlib.util.spec_from_file_location(name, project / "station_backend.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_wheel_holds_only_the_client_packages(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        metadata = email.parser.Parser().parsestr(archive.read(f"{info}/METADATA").decode())
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
    tops = {name.split("/")[0] for name in names} - {info}
    assert tops == SHIPPED_PACKAGES
    assert {"clients/station/cli.py", "wire/attestation.py", "wire/keyfile.py"} <= set(names)
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert metadata["Name"] == "orderseal-station"
    requirements = metadata.get_all("Requires-Dist") or []
    assert {r.split(">")[0].split("<")[0].strip().lower() for r in requirements} == (
        ALLOWED_REQUIREMENTS
    )
    assert "orderseal-station = clients.station.cli:main" in entry_points


def test_station_help_runs_without_the_server(site: Path, tmp_path: Path) -> None:
    result = _run_child(site, tmp_path, "--help")
    assert result.returncode == 0, result.stderr
    assert "orderseal-station" in result.stdout
    for command in ("enrol", "open", "capture", "flush", "close"):
        assert command in result.stdout


def test_station_errors_keep_their_code_and_status_without_the_server(
    site: Path, tmp_path: Path
) -> None:
    result = _run_child(site, tmp_path, "open", "ORD-1", "--home", str(tmp_path / "station"))
    assert result.returncode == 3, result.stderr
    assert "station_not_ready" in result.stdout


def test_the_sdist_rebuilds_the_same_wheel(wheel: Path, tmp_path: Path) -> None:
    backend = _load_backend(PROJECT, "station_backend_repo")
    sdist = tmp_path / backend.build_sdist(str(tmp_path))
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path / "unpacked", filter="data")
    (project,) = (tmp_path / "unpacked").iterdir()
    rebuilt = _load_backend(project, "station_backend_sdist")
    again = tmp_path / "again"
    again.mkdir()
    name = rebuilt.build_wheel(str(again))
    assert name == wheel.name
    assert (again / name).read_bytes() == wheel.read_bytes()


def test_orderseal_station_still_mounts_the_same_commands() -> None:
    from orderseal.cli import app

    result = CliRunner().invoke(app, ["station", "--help"])
    assert result.exit_code == 0, result.output
    for command in ("enrol", "open", "capture", "flush", "close"):
        assert command in result.output
