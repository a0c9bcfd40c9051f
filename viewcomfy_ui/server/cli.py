"""``python -m viewcomfy_ui serve``: the local ViewComfy-compatible API server."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..workflow import load_workflow
from .app import DEFAULT_MAX_UPLOAD, ServerConfig
from .engine import BuiltinEngine

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"
DEMO_WORKFLOW = EXAMPLES / "photo_effects.json"
DEMO_INPUTS = EXAMPLES / "input"


def add_serve_command(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser(
        "serve",
        help="run a local ViewComfy-compatible API server",
        description="Serves the ViewComfy API at http://HOST:PORT/ . Set VIEWCOMFY_SERVER_CLIENT_ID "
        "and VIEWCOMFY_SERVER_CLIENT_SECRET to require those keys on every request.",
    )
    serve.add_argument(
        "--engine", choices=["builtin"], default="builtin", help="what runs the workflows"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workflow",
        type=Path,
        default=DEMO_WORKFLOW,
        help="the deployed workflow (default: the bundled demo)",
    )
    serve.add_argument(
        "--input-dir", type=Path, default=DEMO_INPUTS, help="folder of files the workflow names"
    )
    serve.add_argument("--max-upload-mb", type=float, default=DEFAULT_MAX_UPLOAD / 2**20)
    serve.set_defaults(run=run_serve)


def server_config(workflow_path: Path, input_dir: Path | None, **kwargs) -> ServerConfig:
    workflow = load_workflow(workflow_path)
    return ServerConfig(
        engine=BuiltinEngine(), workflow=workflow.api, input_dir=input_dir, **kwargs
    )


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .app import create_app

    config = server_config(
        args.workflow,
        args.input_dir,
        client_id=os.environ.get("VIEWCOMFY_SERVER_CLIENT_ID"),
        client_secret=os.environ.get("VIEWCOMFY_SERVER_CLIENT_SECRET"),
        max_upload_bytes=int(args.max_upload_mb * 2**20),
    )
    print(
        f"ViewComfy API on http://{args.host}:{args.port}/ (engine: {args.engine}, workflow: {args.workflow.name})"
    )
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level="warning")
    return 0
