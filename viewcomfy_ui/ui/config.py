"""The app's settings: command-line flags, whose defaults come from the environment (and .env).

Flags and variables merge in one place: each flag's argparse default is its environment variable,
so a value from either goes through the same check and a bad one ends in the same one-line error.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import httpx

from ..api import DEFAULT_GATEWAY, Protocol
from ..checks import MEGABYTES, InputError, Number, from_env, listen_host
from ..demo import DEMO_WORKFLOW
from ..errors import ViewComfyError
from ..server import port_number
from ..server.budget import ENV_MAX_IMAGE_MB

PROTOCOLS: tuple[Protocol, ...] = ("realtime", "sse")
MAX_FILE_SIZE = "200mb"
KEEP_OUTPUTS_MINUTES = "120"
_SIZE = re.compile(r"(\d{1,15})\s*([kmgt]?i?b?)", re.I)
CONCURRENCY = Number(1, 1024, whole=True)
KEEP_MINUTES = Number(1, 525_600, whole=True)  # a year
ORPHAN_MINUTES = Number(0, 525_600, low_included=False)
ORPHAN_TIMEOUT_MINUTES = "10"
HISTORY_GB = Number(0, 1_000_000, low_included=False)
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}

HELP = """\
Turn a ComfyUI workflow into a web form that runs it on a ViewComfy endpoint, or with no
endpoint on the built-in local engine (model-free image nodes), with live logs and a gallery.

Every flag can also be set by the environment variable named in its help; the flag wins.
The API keys come only from VIEWCOMFY_CLIENT_ID and VIEWCOMFY_CLIENT_SECRET (the environment
or a .env file next to app.py)."""


def banner(config: AppConfig) -> str:
    """Where runs go, in the page's words (the flags are in --help and the README); the
    protocol always for ViewComfy, else only when it is not the local engine's usual one."""
    over = {"realtime": ", over its realtime API", "sse": ", over the older direct streaming API"}
    if config.api_url:
        return f"Running on ViewComfy ({_host(config.api_url)}){over[config.protocol]}."
    if config.comfyui_url:
        words = f"Running on your ComfyUI ({_host(config.comfyui_url)})"
    else:
        words = "Running on this computer with the built-in engine (no GPU needed)"
    return words + (", over the realtime API" if config.protocol == "realtime" else "") + "."


def _host(url: str) -> str:
    """A URL's host and port (its user and password, path and query never reach the page)."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return "the address given"
    if not parsed.host:
        return "the address given"
    host = f"[{parsed.host}]" if ":" in parsed.host else parsed.host
    return f"{host}:{parsed.port}" if parsed.port else host


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
    port: int = 7860  # 0: any free port
    concurrency: int = 4
    auth: tuple[tuple[str, str], ...] | None = field(default=None, repr=False)  # logins
    protocol: Protocol = "sse"
    gateway_url: str | None = None  # realtime on ViewComfy; the local engine serves its own
    max_file_size: int = 200 << 20  # bytes, per upload
    keep_outputs: float = 7200.0  # seconds a run's folder is kept, even if its session never ends
    orphan_timeout: float = 600.0  # seconds a tab's runs go on with no page watching them
    data_dir: Path | None = None  # run history (SQLite + files); None: no history
    history_max_bytes: int = 5 << 30
    edit: Path | None = None  # author mode: where the curated form is saved


class ConfigError(ViewComfyError, ValueError):
    """A setting is wrong; the message says which and how to fix it (a ValueError too, for
    argparse's type checks)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not usage + message + exit
        raise ConfigError(message)


def parse_config(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> AppConfig:
    env = os.environ if environ is None else environ
    args = build_parser(env).parse_args(argv)
    _check_engine_settings(env)
    if args.gateway_url and not args.api_url:
        raise ConfigError(
            "--gateway-url needs --api-url: without it the local engine serves its own gateway"
        )
    protocol = args.protocol or ("realtime" if args.api_url else "sse")
    if args.gateway_url and protocol != "realtime":
        raise ConfigError("--gateway-url is only used with --protocol realtime")
    return AppConfig(
        workflow=args.workflow,
        api_url=args.api_url,
        comfyui_url=args.comfyui_url,
        client_id=env.get("VIEWCOMFY_CLIENT_ID", "").strip(),
        client_secret=env.get("VIEWCOMFY_CLIENT_SECRET", "").strip(),
        object_info=args.object_info,
        title=args.title,
        host=args.host,
        port=args.port,
        concurrency=args.concurrency,
        auth=args.auth,
        protocol=protocol,
        gateway_url=(args.gateway_url or DEFAULT_GATEWAY)
        if args.api_url and protocol == "realtime"
        else None,
        max_file_size=args.max_file_size,
        keep_outputs=args.keep_outputs * 60.0,
        orphan_timeout=args.orphan_timeout * 60.0,
        data_dir=args.data_dir,
        history_max_bytes=int(args.history_max_gb * (1 << 30)),
        edit=args.edit,
    )


def build_parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    """The app's flags; each default is read from its environment variable (empty = unset)."""
    parser = _Parser(description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)

    def flag(name: str, variable: str | None, help: str, default: str | None = None, **kw) -> None:
        value = from_env(env, variable) if variable else None
        suffix = f" [env {variable}]" if variable else ""
        parser.add_argument(name, default=value or default, help=help + suffix, **kw)

    flag(
        "--workflow", "VIEWCOMFY_WORKFLOW", "API-format workflow_api.json (or its flattened "
        "parameters, or ViewComfy's curated view_comfy.json); default: the bundled demo", str(DEMO_WORKFLOW), type=Path,
    )  # fmt: skip
    flag("--api-url", "VIEWCOMFY_API_URL", "ViewComfy endpoint URL; default: the local engine", type=_url)  # fmt: skip
    flag(
        "--protocol", "VIEWCOMFY_PROTOCOL", "how to talk to ViewComfy: realtime (today's gateway; "
        "the default with --api-url) or sse (the direct streaming call; the local engine's default)",
        type=_protocol, metavar="{realtime,sse}",
    )  # fmt: skip
    flag(
        "--gateway-url", "VIEWCOMFY_GATEWAY_URL",
        f"ViewComfy's realtime gateway (default {DEFAULT_GATEWAY})", type=_url,
    )  # fmt: skip
    flag(
        "--comfyui-url", "VIEWCOMFY_COMFYUI_URL",
        "run on your own ComfyUI (e.g. http://127.0.0.1:8188) instead of the built-in engine",
        type=_url,
    )  # fmt: skip
    flag(
        "--object-info", "VIEWCOMFY_OBJECT_INFO",
        "ComfyUI /object_info JSON file or ComfyUI URL, for exact widgets", metavar="FILE_OR_URL",
    )  # fmt: skip
    flag("--title", "VIEWCOMFY_TITLE", "page title (default: the workflow's file name)")
    on_space = bool(env.get("SPACE_ID"))
    flag(
        "--host", "GRADIO_SERVER_NAME", "interface to listen on (default 127.0.0.1; 0.0.0.0 on a "
        "Space)", "0.0.0.0" if on_space else "127.0.0.1", type=listen_host,
    )  # fmt: skip
    flag("--port", "GRADIO_SERVER_PORT", "port (default 7860; 0: any free port)", "7860", type=port_number)  # fmt: skip
    flag(
        "--concurrency", "VIEWCOMFY_CONCURRENCY", "runs at once across all visitors (default 4)",
        "4", type=CONCURRENCY, metavar="N",
    )  # fmt: skip
    flag(
        "--auth", "VIEWCOMFY_AUTH", "protect the page with a login; several users: "
        "USER:PASS,USER2:PASS2 (each sees only their own history)", type=_auth, metavar="USER:PASS",
    )  # fmt: skip
    flag(
        "--max-file-size", "VIEWCOMFY_MAX_FILE_SIZE",
        f"largest upload a visitor may send (default {MAX_FILE_SIZE})", MAX_FILE_SIZE, type=_size,
        metavar="SIZE",
    )  # fmt: skip
    flag(
        "--keep-outputs", "VIEWCOMFY_KEEP_OUTPUTS", "minutes a run's outputs stay on disk when its "
        f"visitor does not leave cleanly (default {KEEP_OUTPUTS_MINUTES})", KEEP_OUTPUTS_MINUTES,
        type=KEEP_MINUTES, metavar="MINUTES",
    )  # fmt: skip
    flag(
        "--orphan-timeout", "VIEWCOMFY_ORPHAN_TIMEOUT", "minutes a tab's runs go on with no page "
        "open (a reload or a suspended phone tab finds them again); then they are cancelled "
        f"(default {ORPHAN_TIMEOUT_MINUTES}; fractions allowed)", ORPHAN_TIMEOUT_MINUTES,
        type=ORPHAN_MINUTES, metavar="MINUTES",
    )  # fmt: skip
    flag(
        "--data-dir", "VIEWCOMFY_DATA_DIR", "folder for the run history (a SQLite file and the "
        "runs' files); default: /data on a Space with persistent storage, else a per-user folder",
        str(default_data_dir(env)), type=Path, metavar="DIR",
    )  # fmt: skip
    flag(
        "--history-max-gb", "VIEWCOMFY_HISTORY_MAX_GB", "the history's files stay under this "
        "size, the oldest runs removed first (default 5)", "5", type=HISTORY_GB, metavar="GB",
    )  # fmt: skip
    parser.add_argument(
        "--edit",
        nargs="?",
        const=Path("view_comfy.json"),
        type=Path,
        metavar="OUT",
        help="author mode: pick, rename, reorder and group the fields, and save them as a "
        "view_comfy.json that ViewComfy's app loads too (default OUT: ./view_comfy.json)",
    )
    return parser


def _check_engine_settings(env: Mapping[str, str]) -> None:
    """The built-in engine's settings that only the environment gives (read by the engine)."""
    image_mb = (env.get(ENV_MAX_IMAGE_MB) or "").strip()
    if image_mb:
        try:
            MEGABYTES(image_mb)
        except InputError as exc:
            raise ConfigError(f"{ENV_MAX_IMAGE_MB} {exc}") from None


def default_data_dir(env: Mapping[str, str]) -> Path:
    """/data on a Space with persistent storage; else the per-user data folder."""
    if env.get("SPACE_ID") and Path("/data").is_dir():
        return Path("/data")
    if os.name == "nt":
        base = Path(env.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    else:
        base = Path(env.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "viewcomfy-ui"


def _url(text: str) -> str:
    try:
        url = httpx.URL(text.strip())
    except httpx.InvalidURL:
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise argparse.ArgumentTypeError(
            f"{text[:80]!r} is not an http(s) URL (e.g. https://your-app.viewcomfy.com/api-endpoint)"
        )
    return str(url)


def _protocol(text: str) -> Protocol:
    value = text.strip().lower()
    if value not in PROTOCOLS:
        raise argparse.ArgumentTypeError(f"must be realtime or sse, not {text[:40]!r}")
    return value  # type: ignore[return-value]


def _auth(text: str) -> tuple[tuple[str, str], ...]:
    """'ann:pw' or 'ann:pw,bob:pw2' -> the logins (a comma inside a password is kept when the
    rest does not read as another USER:PASS)."""
    parts = text.split(",")
    if not all(":" in part for part in parts):
        parts = [text]
    logins = []
    for part in parts:
        user, sep, password = part.strip().partition(":")
        if not sep or not user or not password:
            raise argparse.ArgumentTypeError("must look like USER:PASS")  # never echo passwords
        logins.append((user, password))
    if len({user for user, _ in logins}) < len(logins):
        raise argparse.ArgumentTypeError("names a user twice")
    return tuple(logins)


def _size(text: str) -> int:
    """'200mb', '1 GB', '1048576' -> bytes (binary units, like Gradio's)."""
    match = _SIZE.fullmatch(text.strip())
    if not match or int(match[1]) < 1:
        raise argparse.ArgumentTypeError(f"must be a size like 200mb or 1gb, not {text[:20]!r}")
    return int(match[1]) * _UNITS[match[2][:1].lower()]
