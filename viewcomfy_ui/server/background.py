"""Run the local API server in a background thread on a free loopback port."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

import uvicorn

from .app import ServerConfig, create_app


@dataclass
class BackgroundServer:
    url: str
    _server: uvicorn.Server
    _thread: threading.Thread

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


def start_background_server(
    config: ServerConfig, host: str = "127.0.0.1", port: int = 0
) -> BackgroundServer:
    """Start the server and return once it accepts connections."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    server = uvicorn.Server(
        uvicorn.Config(create_app(config), log_level="warning", timeout_graceful_shutdown=2)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the local API server did not start")
        time.sleep(0.02)
    return BackgroundServer(
        url=f"http://{host}:{sock.getsockname()[1]}/", _server=server, _thread=thread
    )
