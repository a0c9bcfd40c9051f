"""Command lines: ``python -m viewcomfy_ui params|export-api|serve ...`` and ``viewcomfy-ui``
(the app)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import NoReturn

from .errors import ViewComfyError
from .object_info import load_object_info
from .workflow import is_context_key, load_workflow

OBJECT_INFO_HELP = (
    "node declarations for a UI-format file's custom nodes: a ComfyUI /object_info JSON file "
    "or the URL of a ComfyUI that has them (default: the bundled ones)"
)


class _Parser(argparse.ArgumentParser):
    """Its subcommands' parsers too: a bad flag ends in one line, not usage + message."""

    def error(self, message: str) -> NoReturn:
        sys.exit(_fail(f"{self.prog}: {message}"))


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python -m viewcomfy_ui")
    commands = parser.add_subparsers(dest="command", required=True)

    params = commands.add_parser(
        "params", help="write workflow_api_parameters.json (ViewComfy's flattened parameters)"
    )
    params.add_argument(
        "workflow", type=Path, help="a workflow_api.json, or the workflow.json ComfyUI saves"
    )
    params.add_argument(
        "-o", "--output", type=Path, default=Path("workflow_api_parameters.json"),
        help="where to write (default: ./workflow_api_parameters.json; '-' for stdout)",
    )  # fmt: skip
    params.add_argument("-f", "--force", action="store_true", help="overwrite an existing file")
    params.add_argument("--object-info", metavar="FILE_OR_URL", help=OBJECT_INFO_HELP)
    params.set_defaults(make=lambda w: (w.params, "parameters"))

    export = commands.add_parser(
        "export-api",
        help="write the API-format workflow_api.json of a UI-format workflow.json, as ComfyUI's "
        "Export (API) does",
    )
    export.add_argument("workflow", type=Path, help="the workflow.json ComfyUI saves")
    export.add_argument(
        "-o", "--output", type=Path, default=Path("workflow_api.json"),
        help="where to write (default: ./workflow_api.json; '-' for stdout)",
    )  # fmt: skip
    export.add_argument("-f", "--force", action="store_true", help="overwrite an existing file")
    export.add_argument("--object-info", metavar="FILE_OR_URL", help=OBJECT_INFO_HELP)
    export.set_defaults(make=lambda w: (w.api, "nodes"))

    from .server import add_serve_command

    add_serve_command(commands)
    args = parser.parse_args(argv)
    try:
        return args.run(args) if hasattr(args, "run") else _params(args)
    except ViewComfyError as exc:
        return _fail(str(exc))
    except BrokenPipeError:  # e.g. `... params wf.json -o - | head`
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return 0


def app(argv: list[str] | None = None, env_file: Path | None = None) -> int:
    """The web app (``viewcomfy-ui``, ``python app.py``): settings from flags, the environment
    and `env_file` (default: ``.env`` in the current folder), which never overrides either."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before Gradio is imported
    from dotenv import load_dotenv

    load_dotenv(env_file or Path(".env"), override=False)
    from .ui.config import ConfigError, parse_config

    try:  # before Gradio is imported: it reads GRADIO_SERVER_PORT as it loads
        config = parse_config(argv)
    except ConfigError as exc:
        return _fail(str(exc))
    if "GRADIO_SERVER_PORT" in os.environ:  # the flag's port wins over a bad variable
        os.environ["GRADIO_SERVER_PORT"] = str(config.port)
    from .ui.main import main as app_main

    return app_main(argv)


def _params(args: argparse.Namespace) -> int:
    """``params`` and ``export-api``: load, then write what `args.make` picks."""
    object_info = load_object_info(args.object_info) if args.object_info else None
    workflow = load_workflow(args.workflow, object_info=object_info)
    data, unit = args.make(workflow)
    if data is None:
        return _fail(f"{args.workflow} holds flattened parameters: it has no API workflow")
    text = json.dumps(data, indent=4, ensure_ascii=unit == "parameters")  # params: as ViewComfy
    if str(args.output) == "-":
        print(text)
    else:
        try:
            with args.output.open("w" if args.force else "x", encoding="utf-8") as handle:
                handle.write(text)
        except FileExistsError:
            return _fail(
                f"{args.output} already exists; pass --force to overwrite it, -o PATH to write "
                "elsewhere, or -o - for stdout"
            )
        except OSError as exc:
            return _fail(f"cannot write {args.output} ({exc.strerror or exc})")
        count = sum(not is_context_key(k) for k in data) if unit == "parameters" else len(data)
        print(f"wrote {args.output} ({count} {unit})")
    return 0


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
