"""``python -m viewcomfy_ui serve``: the local ViewComfy-compatible API server."""

from __future__ import annotations

import argparse
import os
import socket
from pathlib import Path

from ..checks import MEGABYTES, Number, from_env, listen_host, refuse
from ..demo import DEMO_INPUTS, DEMO_WORKFLOW
from ..errors import ViewComfyError, WorkflowError
from ..workflow import load_workflow
from .budget import (
    DEFAULT_MAX_IMAGE_BYTES,
    DEFAULT_MAX_OUTPUT_BYTES,
    DEFAULT_MAX_OUTPUT_FILES,
    ENV_MAX_IMAGE_MB,
)
from .comfyui import ComfyUIEngine
from .config import (
    DEFAULT_LINK_TTL,
    DEFAULT_MAX_BODY_SECONDS,
    DEFAULT_MAX_CLIENT_STORAGE,
    DEFAULT_MAX_UPLOAD,
    DEFAULT_ORPHAN_TIMEOUT,
    ServerConfig,
)
from .engine import BuiltinEngine, Engine
from .http import ConnectionLimits

CONNECTIONS = Number(1, 1_000_000, whole=True)
OUTPUT_FILES = Number(1, 10_000_000, whole=True)
LINK_TTL = Number(1, 30 * 86400)  # seconds, up to 30 days
HEAD_TIMEOUT = Number(0.1, 3600)  # seconds
BODY_SECONDS = Number(1, 86400)  # a request body's whole time
ORPHAN_MINUTES = Number(0, 525_600, low_included=False)


class ServeError(ViewComfyError):
    """The server cannot start as asked."""


def add_serve_command(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser(
        "serve",
        help="run a local ViewComfy-compatible API server",
        description="Serves the ViewComfy API at http://HOST:PORT/ (POST /) and ViewComfy's "
        "realtime API (socket.io, /api/workflow/infer) at the same origin. Set VIEWCOMFY_SERVER_CLIENT_ID "
        "and VIEWCOMFY_SERVER_CLIENT_SECRET to require those keys on every request.",
    )
    serve.add_argument(
        "--engine", choices=["builtin", "comfyui"], default="builtin",
        help="builtin: model-free image nodes in this process; comfyui: your ComfyUI (--comfyui-url)",
    )  # fmt: skip
    serve.add_argument(
        "--comfyui-url", default="http://127.0.0.1:8188", help="for --engine comfyui"
    )
    serve.add_argument("--host", default="127.0.0.1", type=listen_host)
    serve.add_argument("--port", type=port_number, default=8000)
    serve.add_argument(
        "--workflow", type=Path, default=DEMO_WORKFLOW,
        help="the deployed workflow (default: the bundled demo)",
    )  # fmt: skip
    serve.add_argument(
        "--input-dir", type=Path, default=DEMO_INPUTS,
        help="folder of files the workflow names (builtin engine)",
    )  # fmt: skip
    serve.add_argument("--max-upload-mb", type=MEGABYTES, default=DEFAULT_MAX_UPLOAD / 2**20)
    serve.add_argument(
        "--link-ttl", type=LINK_TTL, default=DEFAULT_LINK_TTL, metavar="SECONDS",
        help="realtime API: output links expire (and their files are deleted) this long after a run",
    )  # fmt: skip
    serve.add_argument(
        "--max-image-mb", type=MEGABYTES,
        default=from_env(os.environ, ENV_MAX_IMAGE_MB) or DEFAULT_MAX_IMAGE_BYTES / 2**20,
        help=f"builtin engine: image data a run may hold (default 1024, or {ENV_MAX_IMAGE_MB})",
    )  # fmt: skip
    serve.add_argument(
        "--max-output-mb", type=MEGABYTES, default=DEFAULT_MAX_OUTPUT_BYTES / 2**20,
        help="builtin engine: a run's output files together (default %(default)g); more fails it",
    )  # fmt: skip
    serve.add_argument(
        "--max-output-files", type=OUTPUT_FILES, default=DEFAULT_MAX_OUTPUT_FILES,
        help="builtin engine: output files a run may write (default %(default)d)",
    )  # fmt: skip
    serve.add_argument(
        "--max-body-seconds", type=BODY_SECONDS, default=DEFAULT_MAX_BODY_SECONDS,
        metavar="SECONDS", help="a request body must arrive in full within this time (else 408)",
    )  # fmt: skip
    serve.add_argument(
        "--max-client-storage-mb", type=MEGABYTES, default=DEFAULT_MAX_CLIENT_STORAGE / 2**20,
        help="realtime API: disk for one client's stored outputs; past it its oldest expire early",
    )  # fmt: skip
    serve.add_argument(
        "--orphan-timeout", type=ORPHAN_MINUTES, default=DEFAULT_ORPHAN_TIMEOUT / 60,
        metavar="MINUTES",
        help="realtime API: a run whose socket went away goes on this long for a new socket to "
        "re-subscribe to it (POST /api/workflow/infer/subscribe/{sid}); then it is cancelled "
        "(default %(default)g)",
    )  # fmt: skip
    serve.add_argument(
        "--max-connections", type=CONNECTIONS, default=ConnectionLimits.max_connections,
        help="open connections at once; more are closed at once",
    )  # fmt: skip
    serve.add_argument(
        "--head-timeout", type=HEAD_TIMEOUT, default=ConnectionLimits.head_timeout,
        metavar="SECONDS",
        help="a request's line and headers must arrive within this time",
    )  # fmt: skip
    serve.set_defaults(run=run_serve)


def port_number(text: str) -> int:
    """An argparse type: a TCP port, 0 meaning any free one."""
    if not text.strip().isdigit() or len(text.strip()) > 5 or int(text) > 65535:
        raise refuse(text, "a port number from 1 to 65535 (or 0 for any free port)")
    return int(text)


def _check_free(host: str, port: int) -> None:
    """A one-line error now, rather than uvicorn's after the start-up line."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ServeError(
                f"cannot listen on {host}:{port} ({exc.strerror or exc}); pick another --port"
            ) from exc


def make_engine(
    name: str,
    comfyui_url: str | None,
    max_image_bytes: int | None = None,
    max_output_bytes: int | None = None,
    max_output_files: int | None = None,
) -> Engine:
    """The engine by name; a ComfyUI engine is checked for reachability first; the limits are
    the built-in engine's (None: its defaults)."""
    if name == "comfyui":
        engine = ComfyUIEngine(comfyui_url or "http://127.0.0.1:8188")
        engine.ping()
        return engine
    return BuiltinEngine(max_image_bytes, max_output_bytes, max_output_files)


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .app import create_app
    from .http import uvicorn_config

    workflow = load_workflow(args.workflow)
    if workflow.api is None:
        raise WorkflowError(
            f"{args.workflow.name} holds flattened parameters; serve needs the API-format workflow"
        )
    _check_free(args.host, args.port)
    engine = make_engine(
        args.engine, args.comfyui_url, int(args.max_image_mb * 2**20),
        int(args.max_output_mb * 2**20), args.max_output_files,
    )  # fmt: skip
    config = ServerConfig(
        engine=engine,
        workflow=workflow.api,
        input_dir=args.input_dir,
        client_id=os.environ.get("VIEWCOMFY_SERVER_CLIENT_ID"),
        client_secret=os.environ.get("VIEWCOMFY_SERVER_CLIENT_SECRET"),
        max_upload_bytes=int(args.max_upload_mb * 2**20),
        link_ttl=args.link_ttl,
        max_body_seconds=args.max_body_seconds,
        max_client_storage_bytes=int(args.max_client_storage_mb * 2**20),
        orphan_timeout=args.orphan_timeout * 60,
    )
    where = f"ComfyUI at {args.comfyui_url}" if args.engine == "comfyui" else "the built-in engine"
    print(
        f"ViewComfy API on http://{args.host}:{args.port}/ running {args.workflow.name} on {where}"
    )
    limits = ConnectionLimits(head_timeout=args.head_timeout, max_connections=args.max_connections)
    uvicorn.Server(uvicorn_config(create_app(config, limits), args.host, args.port, limits)).run()
    return 0
