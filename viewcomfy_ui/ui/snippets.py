"""Equivalent Python and cURL for the last run, in the endpoint's protocol.

The keys are left to environment variables. The embedded local server's loopback URL is never
shown (it means nothing outside this machine): the snippets read $VIEWCOMFY_API_URL instead.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..api import DEFAULT_GATEWAY

if TYPE_CHECKING:
    from .runner import Endpoint

API_URL_VARIABLE = "VIEWCOMFY_API_URL"
MAX_TIME = 2400  # seconds: a cold start plus a long run


def code_views(
    endpoint: Endpoint, values: Mapping[str, Any], files: Mapping[str, Path]
) -> tuple[str, str, str]:
    """The API accordion's params JSON, Python and cURL for `endpoint`."""
    return (
        params_json(values, files),
        python_snippet(endpoint, values, files),
        curl_snippet(endpoint, values, files),
    )


def params_json(values: Mapping[str, Any], files: Mapping[str, Path]) -> str:
    shown = {**values, **{key: f"<file: {path.name}>" for key, path in files.items()}}
    return json.dumps(shown, indent=2, ensure_ascii=False)


def python_snippet(endpoint: Endpoint, values: Mapping[str, Any], files: Mapping[str, Path]) -> str:
    """Our client's call (the local server's URL is read from $VIEWCOMFY_API_URL)."""
    api_url, gateway_url = endpoint.public_url, _shown_gateway(endpoint)
    url = repr(api_url) if api_url else f"os.environ[{API_URL_VARIABLE!r}]"
    options = []
    if endpoint.protocol == "realtime":
        options.append('    protocol="realtime",')
        if gateway_url and gateway_url != DEFAULT_GATEWAY:
            options.append(f"    gateway_url={gateway_url!r},")
    lines = [
        "import asyncio, os",
        "from pathlib import Path",
        "from viewcomfy_ui.api import infer_with_logs",
        "from viewcomfy_ui.outputs import save_outputs",
        "",
        "params = {",
        *(f"    {key!r}: {value!r}," for key, value in values.items()),  # repr: valid Python
        "}",
        *(f"params[{key!r}] = Path({path.name!r})" for key, path in files.items()),
        "",
        "result = asyncio.run(infer_with_logs(",
        "    params=params,",
        "    logging_callback=print,",
        f"    api_url={url},",
        '    client_id=os.environ["VIEWCOMFY_CLIENT_ID"],',
        '    client_secret=os.environ["VIEWCOMFY_CLIENT_SECRET"],',
        *options,
        "))",
        'print(save_outputs(result, "outputs"))',
    ]
    return "\n".join(lines)


def curl_snippet(endpoint: Endpoint, values: Mapping[str, Any], files: Mapping[str, Path]) -> str:
    """The same run with curl: one POST (sse), or submit then poll for results (realtime)."""
    api_url, gateway_url = endpoint.public_url, _shown_gateway(endpoint)
    url = shlex.quote(api_url) if api_url else f'"${API_URL_VARIABLE}"'
    keys = ['-H "client_id: $VIEWCOMFY_CLIENT_ID"', '-H "client_secret: $VIEWCOMFY_CLIENT_SECRET"']
    form = [f"-F {shlex.quote('params=' + json.dumps(values, ensure_ascii=False))}"]
    form += [f"-F {shlex.quote(f'{key}=@{path.name}')}" for key, path in files.items()]
    if endpoint.protocol == "sse":
        parts = [f"curl -X POST {url}", *keys, "-F logs=false", *form, f"--max-time {MAX_TIME} -L"]
        return " \\\n  ".join(parts)
    gateway = shlex.quote((gateway_url or DEFAULT_GATEWAY).rstrip("/") + "/api/workflow/infer")
    submit = [
        f"curl -X POST {gateway}",
        *keys,
        '-F "prompt_id=$PROMPT_ID"',
        f"-F view_comfy_api_url={url}",
        *form,
    ]
    results = [
        f"curl -G {gateway}/",
        *keys,
        '--data-urlencode "prompt_ids=$PROMPT_ID"',
    ]
    return "\n".join(
        [
            "PROMPT_ID=$(python3 -c 'import uuid; print(uuid.uuid4())')",
            " \\\n  ".join(submit),
            '# then, until the answer says "completed": true (outputs are download links):',
            " \\\n  ".join(results),
        ]
    )


def _shown_gateway(endpoint: Endpoint) -> str | None:
    """The gateway a reader should use: the local server's own one means nothing to them."""
    return None if endpoint.local else endpoint.gateway_url
