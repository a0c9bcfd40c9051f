"""Gradio's web server with the connection limits of `serve` (server/http.py): a deadline for a
request's head, bounded bodies and keep-alive, and a cap on open connections.

Gradio's launch() builds its uvicorn.Config itself (gradio.http_server.start_server) and has no
option for the HTTP protocol or timeouts. While `guarded_launch` starts the server, the name
`uvicorn` in gradio.http_server is an object whose `Config` is `uvicorn_config` with the limits
(everything else is uvicorn's own), so Gradio's port search, reloaders and SSL stay as they are.
This relies on start_server calling `uvicorn.Config(app=..., port=..., host=..., ...)` through
that module name (gradio 6.x); test_the_apps_port_cuts_off_partial_heads_and_still_serves
(tests/test_app_limits.py) pins it, so an upgrade that changes it fails that test.
"""

from __future__ import annotations

import threading
from typing import Any

import gradio as gr
import gradio.http_server
import uvicorn

from ..server.http import ConnectionLimits, uvicorn_config

_swap = threading.Lock()  # one launch at a time swaps the name


class _GuardedUvicorn:
    """The uvicorn module as gradio.http_server sees it during a launch: Config is ours."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits

    def Config(self, app: Any, host: str, port: int, **options: Any) -> uvicorn.Config:
        return uvicorn_config(app, host, port, self.limits, **options)

    def __getattr__(self, name: str) -> Any:
        return getattr(uvicorn, name)


def guarded_launch(page: gr.Blocks, limits: ConnectionLimits, **options: Any) -> None:
    """`page.launch(**options)` with its server under `limits`; blocks as launch() does unless
    `prevent_thread_lock` is set."""
    block = not options.pop("prevent_thread_lock", False)
    with _swap:
        original = gradio.http_server.uvicorn
        gradio.http_server.uvicorn = _GuardedUvicorn(limits)  # type: ignore[assignment]
        try:
            page.launch(prevent_thread_lock=True, **options)
        finally:
            gradio.http_server.uvicorn = original
    if block:
        page.block_thread()
