"""moto's server mode as the local stand-in for AWS KMS (no KMS runs here).

The real boto3 client and its HTTP path run against ``moto_server`` on a loopback port.
moto is faithful for ``CreateKey``/``GetPublicKey``/``Sign`` with ``MessageType=RAW``; it
mishandles ``DIGEST`` (it hashes the digest again), which the KMS tests account for.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

from tests.support.require import missing

__all__ = ["MOTO_CREDENTIALS", "MotoServer"]

MOTO_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class MotoServer:
    """``moto_server`` as a subprocess; ``endpoint_url`` once entered."""

    def __init__(self) -> None:
        binary = Path(sys.executable).parent / "moto_server"
        if not binary.exists():
            missing("moto_server is not installed (pip install 'moto[server]')")
        self.binary = binary
        self.port = _free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> MotoServer:
        self._process = subprocess.Popen(
            [str(self.binary), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.endpoint_url}/moto-api/", timeout=1)
                return self
            except httpx.HTTPError:
                time.sleep(0.1)
        self.__exit__(None, None, None)
        raise RuntimeError("moto_server did not become ready")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
