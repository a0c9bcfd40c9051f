"""Start the project's local API server (real uvicorn on loopback) for tests."""

from __future__ import annotations

from contextlib import contextmanager

from viewcomfy_ui.demo import DEMO_INPUTS, DEMO_WORKFLOW
from viewcomfy_ui.server import BuiltinEngine, ServerConfig, start_background_server
from viewcomfy_ui.workflow import load_workflow

DEMO = DEMO_WORKFLOW


@contextmanager
def local_server(engine=None, **kwargs):
    limits = kwargs.pop("limits", None)
    config = ServerConfig(
        engine=engine or BuiltinEngine(),
        workflow=kwargs.pop("workflow", load_workflow(DEMO).api),
        input_dir=kwargs.pop("input_dir", DEMO_INPUTS),
        **kwargs,
    )
    server = start_background_server(config, limits=limits)
    try:
        yield server.url
    finally:
        server.stop()
