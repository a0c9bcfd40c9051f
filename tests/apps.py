"""Launch the real Gradio app on a free loopback port for tests."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gradio_client import Client

from viewcomfy_ui.demo import DEMO_WORKFLOW as DEMO
from viewcomfy_ui.ui.config import AppConfig
from viewcomfy_ui.ui.main import create_app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_app(workflow: Path = DEMO, **settings):
    config = AppConfig(workflow=workflow, api_url=settings.pop("api_url", None), **settings)
    app = create_app(config)
    port = free_port()
    app.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/", app
    finally:
        app.close()


@contextmanager
def gradio_client(url: str) -> Iterator[Client]:
    """gradio_client's Client, closed after: its heartbeat thread holds a connection."""
    client = Client(url, verbose=False)
    try:
        yield client
    finally:
        client.close()


def endpoint_ids(page, api_name: str = "run") -> tuple[list[str | None], list[str | None]]:
    """The elem_ids of an endpoint's API parameters and returns, in gradio_client's order.

    gradio_client leaves out components with ``skip_api`` (states, buttons): so do we.
    """
    config = page.config
    components = {c["id"]: c for c in config["components"]}
    dependency = next(d for d in config["dependencies"] if d.get("api_name") == api_name)

    def shown(ids: list[int]) -> list[str | None]:
        return [
            components[i]["props"].get("elem_id")
            for i in ids
            if not components[i].get("skip_api", False)
        ]

    return shown(dependency["inputs"]), shown(dependency["outputs"])
