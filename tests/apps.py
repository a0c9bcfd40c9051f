"""Launch the real Gradio app on a free loopback port for tests."""

from __future__ import annotations

import socket
from contextlib import contextmanager
from pathlib import Path

from viewcomfy_ui.demo import DEMO_WORKFLOW as DEMO
from viewcomfy_ui.ui.config import AppConfig
from viewcomfy_ui.ui.main import create_app
from viewcomfy_ui.ui.page import LAUNCH_STYLE


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_app(workflow: Path = DEMO, **settings):
    config = AppConfig(workflow=workflow, api_url=settings.pop("api_url", None), **settings)
    app = create_app(config)
    port = free_port()
    app.page.launch(
        prevent_thread_lock=True,
        server_name="127.0.0.1",
        server_port=port,
        quiet=True,
        **LAUNCH_STYLE,
    )
    try:
        yield f"http://127.0.0.1:{port}/", app
    finally:
        app.page.close()
        app.close()
