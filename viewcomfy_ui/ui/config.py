"""The app's settings, from command-line flags, then environment variables (and a .env file)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..demo import DEMO_WORKFLOW

HELP = """\
Turn a ComfyUI workflow into a web form that runs it on a ViewComfy endpoint, or with no
endpoint on the built-in local engine (model-free image nodes), with live logs and a gallery.

Environment: VIEWCOMFY_WORKFLOW, VIEWCOMFY_API_URL, VIEWCOMFY_COMFYUI_URL, VIEWCOMFY_CLIENT_ID,
VIEWCOMFY_CLIENT_SECRET (keys only from the environment or a .env file next to app.py),
VIEWCOMFY_OBJECT_INFO, VIEWCOMFY_TITLE, VIEWCOMFY_AUTH (user:pass), GRADIO_SERVER_NAME,
GRADIO_SERVER_PORT."""


@dataclass(frozen=True)
class AppConfig:
    workflow: Path
    api_url: str | None
    comfyui_url: str | None = None
    client_id: str = field(default="", repr=False)
    client_secret: str = field(default="", repr=False)
    object_info: str | None = None
    title: str | None = None
    host: str = "127.0.0.1"
    port: int = 7860
    concurrency: int = 4
    auth: tuple[str, str] | None = field(default=None, repr=False)


class ConfigError(ValueError):
    """A setting is wrong; the message says which and how to fix it."""


def parse_config(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> AppConfig:
    env = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(
        prog="python app.py", description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--workflow",
        type=Path,
        help="API-format workflow_api.json (or its flattened parameters); default: the bundled demo",
    )
    parser.add_argument(
        "--api-url", help="ViewComfy endpoint URL; default: the built-in local engine"
    )
    parser.add_argument(
        "--comfyui-url",
        help="run on your own ComfyUI (e.g. http://127.0.0.1:8188) instead of the built-in engine",
    )
    parser.add_argument(
        "--object-info",
        metavar="FILE_OR_URL",
        help="ComfyUI /object_info JSON file or ComfyUI URL, for exact widgets",
    )
    parser.add_argument("--title", help="page title (default: the workflow's file name)")
    parser.add_argument(
        "--host", help="interface to listen on (default 127.0.0.1; 0.0.0.0 on a Space)"
    )
    parser.add_argument("--port", type=int, help="port (default 7860)")
    parser.add_argument(
        "--concurrency", type=int, default=4, help="runs at once across all visitors (default 4)"
    )
    parser.add_argument("--auth", metavar="USER:PASS", help="protect the page with a login")
    args = parser.parse_args(argv)

    auth_text = args.auth or env.get("VIEWCOMFY_AUTH")
    auth = None
    if auth_text:
        user, sep, password = auth_text.partition(":")
        if not sep or not user or not password:
            raise ConfigError("--auth must look like USER:PASS")
        auth = (user, password)
    if args.concurrency < 1:
        raise ConfigError("--concurrency must be at least 1")
    on_space = bool(env.get("SPACE_ID"))
    return AppConfig(
        workflow=args.workflow or Path(env.get("VIEWCOMFY_WORKFLOW") or DEMO_WORKFLOW),
        api_url=args.api_url or env.get("VIEWCOMFY_API_URL") or None,
        comfyui_url=args.comfyui_url or env.get("VIEWCOMFY_COMFYUI_URL") or None,
        client_id=env.get("VIEWCOMFY_CLIENT_ID", "").strip(),
        client_secret=env.get("VIEWCOMFY_CLIENT_SECRET", "").strip(),
        object_info=args.object_info or env.get("VIEWCOMFY_OBJECT_INFO") or None,
        title=args.title or env.get("VIEWCOMFY_TITLE") or None,
        host=args.host or env.get("GRADIO_SERVER_NAME") or ("0.0.0.0" if on_space else "127.0.0.1"),
        port=args.port or int(env.get("GRADIO_SERVER_PORT") or 7860),
        concurrency=args.concurrency,
        auth=auth,
    )
