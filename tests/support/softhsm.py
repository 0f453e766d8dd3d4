"""A real SoftHSM2 token in a temporary folder, with its own ``SOFTHSM2_CONF``.

SoftHSM reads ``SOFTHSM2_CONF`` when the PKCS#11 library initialises, and python-pkcs11
loads a library once per process, so one configuration serves the whole test session; each
test module initialises its own token (label) in it. Under ``CI=true`` a missing SoftHSM2
fails the run; elsewhere the tests skip with the reason.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.require import missing

__all__ = ["SOFTHSM_MODULE", "HSMToken", "SoftHSM", "require_softhsm"]

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"


def require_softhsm() -> str:
    """The ``softhsm2-util`` path; fail under CI, skip elsewhere, when SoftHSM2 is missing."""
    util = shutil.which("softhsm2-util")
    if util and Path(SOFTHSM_MODULE).exists():
        return util
    missing("SoftHSM2 is not installed (apt-get install softhsm2)")


@dataclass(frozen=True)
class HSMToken:
    """An initialised token: its label and user PIN."""

    label: str
    pin: str


class SoftHSM:
    """A SoftHSM2 token directory and configuration file."""

    def __init__(self, directory: Path) -> None:
        self.util = require_softhsm()
        self.directory = directory
        (directory / "tokens").mkdir(parents=True, exist_ok=True)
        self.conf = directory / "softhsm2.conf"
        self.conf.write_text(
            f"directories.tokendir = {directory / 'tokens'}\n"
            "objectstore.backend = file\nlog.level = ERROR\n"
        )

    def init_token(self, label: str) -> HSMToken:
        """Initialise a fresh token in a free slot."""
        pin = secrets.token_hex(4)
        subprocess.run(
            [
                self.util,
                "--init-token",
                "--free",
                "--label",
                label,
                "--so-pin",
                secrets.token_hex(4),
                "--pin",
                pin,
            ],
            env={**os.environ, "SOFTHSM2_CONF": str(self.conf)},
            check=True,
            capture_output=True,
            timeout=60,
        )
        return HSMToken(label, pin)
