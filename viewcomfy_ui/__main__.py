"""Command line: ``python -m viewcomfy_ui params|serve ...``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .errors import ViewComfyError
from .workflow import is_context_key, load_workflow


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m viewcomfy_ui")
    commands = parser.add_subparsers(dest="command", required=True)

    params = commands.add_parser(
        "params", help="write workflow_api_parameters.json (ViewComfy's flattened parameters)"
    )
    params.add_argument("workflow", type=Path, help="an API-format workflow_api.json")
    params.add_argument(
        "-o", "--output", type=Path, default=Path("workflow_api_parameters.json"),
        help="where to write (default: ./workflow_api_parameters.json; '-' for stdout)",
    )  # fmt: skip

    from .server.cli import add_serve_command

    add_serve_command(commands)
    args = parser.parse_args(argv)
    try:
        return args.run(args) if hasattr(args, "run") else _params(args)
    except ViewComfyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `... params wf.json -o - | head`
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return 0


def _params(args: argparse.Namespace) -> int:
    workflow = load_workflow(args.workflow)
    text = json.dumps(workflow.params, indent=4)
    if str(args.output) == "-":
        print(text)
    else:
        args.output.write_text(text)
        print(
            f"wrote {args.output} ({sum(not is_context_key(k) for k in workflow.params)} parameters)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
