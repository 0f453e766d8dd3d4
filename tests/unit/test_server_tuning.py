"""Worker process tuning: TCP_NODELAY on every connection, glibc keeping large buffers."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.auto import AutoHTTPProtocol
from uvicorn.server import ServerState

from orderseal.server import NoDelayHTTPProtocol

_ROOT = Path(__file__).resolve().parents[2]


def _nodelay_of_accepted_connection(protocol_class: type[asyncio.Protocol]) -> int:
    """Serve on a listening socket rebuilt from its descriptor, as uvicorn's workers get it."""
    config = uvicorn.Config(FastAPI(), log_level="warning")
    config.load()
    state = ServerState()
    made: list[asyncio.Protocol] = []

    async def scenario() -> int:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        # What --workers hands each worker: the descriptor rebuilt with ``proto`` 0, which
        # asyncio reads as "not TCP" and so leaves Nagle's algorithm on.
        rebuilt = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 0, fileno=listener.detach())
        try:

            def factory() -> asyncio.Protocol:
                protocol = protocol_class(  # type: ignore[call-arg]
                    config=config, server_state=state, app_state={}
                )
                made.append(protocol)
                return protocol

            server = await asyncio.get_running_loop().create_server(factory, sock=rebuilt)
            port = rebuilt.getsockname()[1]
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            for _ in range(100):
                if made:
                    break
                await asyncio.sleep(0.01)
            transport = made[0].transport  # type: ignore[attr-defined]
            value = int(
                transport.get_extra_info("socket").getsockopt(
                    socket.IPPROTO_TCP, socket.TCP_NODELAY
                )
            )
            writer.close()
            server.close()
            return value
        finally:
            rebuilt.close()

    return asyncio.run(scenario())


def test_worker_connections_have_nagle_off() -> None:
    assert _nodelay_of_accepted_connection(NoDelayHTTPProtocol) != 0


def test_uvicorns_own_protocol_leaves_nagle_on_for_rebuilt_sockets() -> None:
    # Why NoDelayHTTPProtocol exists: if uvicorn or asyncio fix this, the class can go.
    assert _nodelay_of_accepted_connection(AutoHTTPProtocol) == 0


def test_glibc_agrees_to_keep_large_buffers() -> None:
    # In a child process: the setting changes malloc for the rest of the process it runs in.
    probe = "from infra.memory import reuse_large_buffers; print(reuse_large_buffers())"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=_ROOT
    )
    assert result.stdout.strip() == "True"
