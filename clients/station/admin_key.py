"""The enrolment credential, read from the environment or a private file, never the command line.

A key typed as ``--admin-key SECRET`` lands in shell history, ``ps`` output and terminal
scroll-back, where anyone at the packing bench can read it later (and enrol a rogue
station). So ``enrol`` and ``reset`` take it only from ``ORDERSEAL_ADMIN_KEY`` or from
``--admin-key-file PATH``; the file must not be readable or writable by other users.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from clients.station.errors import StationError

__all__ = ["ADMIN_KEY_ENV", "read_admin_key"]

ADMIN_KEY_ENV = "ORDERSEAL_ADMIN_KEY"
_MAX_KEY_BYTES = 4096


def read_admin_key(key_file: Path | None) -> str:
    """The admin key from ``key_file`` (if given) or ``ORDERSEAL_ADMIN_KEY``.

    Raises:
        StationError: no key (``admin_key_missing``), a file others can read or write
            (``admin_key_file_unsafe``), or an unreadable or empty file.
    """
    if key_file is not None:
        try:
            mode = key_file.stat().st_mode
            if mode & (stat.S_IROTH | stat.S_IWOTH):
                raise StationError(
                    f"{key_file} is readable or writable by other users: chmod 600 it",
                    code="admin_key_file_unsafe",
                )
            with key_file.open("rb") as handle:
                key = handle.read(_MAX_KEY_BYTES).decode().strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise StationError(
                f"cannot read the admin key file {key_file}", code="admin_key_missing"
            ) from exc
    else:
        key = os.environ.get(ADMIN_KEY_ENV, "").strip()
    if not key:
        raise StationError(
            f"expected the enrolment key in {ADMIN_KEY_ENV} or --admin-key-file "
            "(never on the command line)",
            code="admin_key_missing",
        )
    return key
