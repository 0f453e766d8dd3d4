"""PEP 517 backend for the ``orderseal-station`` wheel: the ``clients`` and ``wire`` packages.

Standard library only, so ``pip wheel --no-build-isolation`` works offline on any venv. The
metadata comes from ``[project]`` in the ``pyproject.toml`` beside this file and the shipped
packages from ``[tool.station-backend]``. Builds are reproducible: sorted entries with a fixed
timestamp. Only ``.py`` files and ``py.typed`` are shipped; caches never are.
"""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "build_sdist",
    "build_wheel",
    "get_requires_for_build_sdist",
    "get_requires_for_build_wheel",
]

_HERE = Path(__file__).resolve().parent
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_SHIPPED_SUFFIXES = {".py"}
_SHIPPED_NAMES = {"py.typed"}


def _config() -> dict[str, Any]:
    data: dict[str, Any] = tomllib.loads((_HERE / "pyproject.toml").read_text())
    return data


def _source_root(packages: list[str]) -> Path:
    """Beside this file in an unpacked sdist, else the configured ``source-root``."""
    if all((_HERE / name / "__init__.py").is_file() for name in packages):
        return _HERE
    root: Path = (_HERE / str(_config()["tool"]["station-backend"]["source-root"])).resolve()
    missing = [name for name in packages if not (root / name / "__init__.py").is_file()]
    if missing:
        raise FileNotFoundError(f"expected packages {missing} in {root}, found none")
    return root


def _package_files() -> Iterator[tuple[str, Path]]:
    """``(archive name, file)`` for every shipped file, sorted."""
    packages: list[str] = _config()["tool"]["station-backend"]["packages"]
    root = _source_root(packages)
    for name in packages:
        for path in sorted((root / name).rglob("*")):
            if "__pycache__" in path.parts or not path.is_file():
                continue
            if path.suffix in _SHIPPED_SUFFIXES or path.name in _SHIPPED_NAMES:
                yield path.relative_to(root).as_posix(), path


def _dist_name(project: dict[str, Any]) -> str:
    return str(project["name"]).replace("-", "_").lower()


def _metadata(project: dict[str, Any]) -> str:
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {project['name']}",
        f"Version: {project['version']}",
        f"Summary: {project['description']}",
        f"Requires-Python: {project['requires-python']}",
        f"License: {project['license']['text']}",
    ]
    lines += [f"Requires-Dist: {requirement}" for requirement in project["dependencies"]]
    return "\n".join(lines) + "\n"


def _entry_points(project: dict[str, Any]) -> str:
    scripts = "".join(f"{name} = {target}\n" for name, target in project["scripts"].items())
    return f"[console_scripts]\n{scripts}"


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def get_requires_for_build_wheel(config_settings: dict[str, Any] | None = None) -> list[str]:
    """Nothing beyond the standard library."""
    return []


def get_requires_for_build_sdist(config_settings: dict[str, Any] | None = None) -> list[str]:
    """Nothing beyond the standard library."""
    return []


def build_wheel(
    wheel_directory: str,
    config_settings: dict[str, Any] | None = None,
    metadata_directory: str | None = None,
) -> str:
    """Write ``orderseal_station-<version>-py3-none-any.whl`` into ``wheel_directory``.

    Returns:
        The wheel's file name.

    Raises:
        FileNotFoundError: a configured package is missing.
    """
    project: dict[str, Any] = _config()["project"]
    base = f"{_dist_name(project)}-{project['version']}"
    info = f"{base}.dist-info"
    entries = [(name, path.read_bytes()) for name, path in _package_files()]
    entries += [
        (f"{info}/METADATA", _metadata(project).encode()),
        (
            f"{info}/WHEEL",
            b"Wheel-Version: 1.0\nGenerator: station_backend\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n",
        ),
        (f"{info}/entry_points.txt", _entry_points(project).encode()),
    ]
    record = [_record_line(name, data) for name, data in entries] + [f"{info}/RECORD,,"]
    entries.append((f"{info}/RECORD", ("\n".join(record) + "\n").encode()))
    filename = f"{base}-py3-none-any.whl"
    target = Path(wheel_directory) / filename
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as wheel:
        for name, data in entries:
            member = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
            member.external_attr = 0o644 << 16
            member.compress_type = zipfile.ZIP_DEFLATED
            wheel.writestr(member, data)
    return filename


def build_sdist(sdist_directory: str, config_settings: dict[str, Any] | None = None) -> str:
    """Write ``orderseal_station-<version>.tar.gz``: this folder's files and the packages
    beside them, so the wheel builds again from the unpacked sdist.

    Returns:
        The sdist's file name.
    """
    project: dict[str, Any] = _config()["project"]
    base = f"{_dist_name(project)}-{project['version']}"
    files = [(name, path.read_bytes()) for name, path in _package_files()]
    files += [
        (name, (_HERE / name).read_bytes()) for name in ("pyproject.toml", Path(__file__).name)
    ]
    files.append(("PKG-INFO", _metadata(project).encode()))
    filename = f"{base}.tar.gz"
    with tarfile.open(Path(sdist_directory) / filename, "w:gz") as sdist:
        for name, data in sorted(files):
            member = tarfile.TarInfo(f"{base}/{name}")
            member.size, member.mode, member.mtime = len(data), 0o644, 0
            sdist.addfile(member, io.BytesIO(data))
    return filename
