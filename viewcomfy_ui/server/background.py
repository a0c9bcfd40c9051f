"""Run the local API server in a background thread on a free loopback port."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import uvicorn

from .app import ServerConfig, create_app
from .http import ConnectionLimits, uvicorn_config


@dataclass
class BackgroundServer:
    url: str
    _server: uvicorn.Server
    _thread: threading.Thread

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


def start_background_server(
    config: ServerConfig,
    host: str = "127.0.0.1",
    port: int = 0,
    limits: ConnectionLimits | None = None,
) -> BackgroundServer:
    """Start the server (port 0: any free port) and return once it accepts connections."""
    # uvicorn binds the socket itself: its accepted connections then get TCP_NODELAY (a socket
    # handed in through `sockets=` did not, which cost ~40 ms of delayed ACK per request).
    server = uvicorn.Server(
        uvicorn_config(create_app(config, limits), host, port, limits, timeout_graceful_shutdown=2)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the local API server did not start on {host}:{port}")
        time.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()[1]
    return BackgroundServer(url=f"http://{host}:{bound}/", _server=server, _thread=thread)
