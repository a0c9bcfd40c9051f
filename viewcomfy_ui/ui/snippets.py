"""Equivalent Python and cURL for the last run, with the secret left to an environment variable."""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def params_json(values: Mapping[str, Any], files: Mapping[str, Path]) -> str:
    shown = {**values, **{key: f"<file: {path.name}>" for key, path in files.items()}}
    return json.dumps(shown, indent=2, ensure_ascii=False)


def python_snippet(api_url: str, values: Mapping[str, Any], files: Mapping[str, Path]) -> str:
    lines = [
        "import asyncio, os",
        "from pathlib import Path",
        "from viewcomfy_ui.api import infer_with_logs",
        "from viewcomfy_ui.outputs import save_outputs",
        "",
        f"params = {json.dumps(values, indent=4, ensure_ascii=False)}",
    ]
    lines += [f"params[{key!r}] = Path({path.name!r})" for key, path in files.items()]
    lines += [
        "",
        "result = asyncio.run(infer_with_logs(",
        "    params=params,",
        "    logging_callback=print,",
        f"    api_url={api_url!r},",
        '    client_id=os.environ["VIEWCOMFY_CLIENT_ID"],',
        '    client_secret=os.environ["VIEWCOMFY_CLIENT_SECRET"],',
        "))",
        'print(save_outputs(result, "outputs"))',
    ]
    return (
        "\n".join(lines)
        .replace(": true", ": True")
        .replace(": false", ": False")
        .replace(": null", ": None")
    )


def curl_snippet(api_url: str, values: Mapping[str, Any], files: Mapping[str, Path]) -> str:
    parts = [
        f"curl -X POST {shlex.quote(api_url)}",
        '-H "client_id: $VIEWCOMFY_CLIENT_ID"',
        '-H "client_secret: $VIEWCOMFY_CLIENT_SECRET"',
        "-F logs=false",
        f"-F {shlex.quote('params=' + json.dumps(values, ensure_ascii=False))}",
    ]
    parts += [f"-F {shlex.quote(f'{key}=@{path.name}')}" for key, path in files.items()]
    parts.append("--max-time 2400 -L")
    return " \\\n  ".join(parts)
