"""Equivalent Python and cURL for the last run, in the endpoint's protocol.

The keys are left to environment variables. The embedded local server's loopback URL is never
shown (its port changes each start): for the built-in engine the snippets say how to start the
same engine (`python -m viewcomfy_ui serve`) and call its default address, unless
$VIEWCOMFY_API_URL says otherwise, so they run as shown on the app's machine.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..api import DEFAULT_GATEWAY
from ..curated import sniff_view_comfy
from ..demo import DEMO_INPUTS, DEMO_WORKFLOW
from ..fields import MEDIA_KINDS, Field

if TYPE_CHECKING:
    from .runner import Endpoint

API_URL_VARIABLE = "VIEWCOMFY_API_URL"
LOCAL_URL = "http://127.0.0.1:8000"  # where `python -m viewcomfy_ui serve` listens by default
MAX_TIME = 2400  # seconds: a cold start plus a long run
SERVE = "python -m viewcomfy_ui serve"


def serve_command(workflow: Path, comfyui_url: str | None = None) -> str:
    """The command that starts, on this machine, the engine the app embeds."""
    words = [SERVE]
    if comfyui_url:
        words += ["--engine comfyui --comfyui-url", shlex.quote(comfyui_url)]
    if sniff_view_comfy(workflow):  # serve takes an API workflow: the form's workflowApiJSON
        words.append(f"--workflow workflow_api.json  # the workflowApiJSON of {workflow.name}")
    elif workflow.resolve() != DEMO_WORKFLOW.resolve():
        words.append(f"--workflow {shlex.quote(str(workflow))}")
        inputs = workflow.parent / "input"
        if inputs.is_dir() and inputs.resolve() != DEMO_INPUTS.resolve():
            words.append(f"--input-dir {shlex.quote(str(inputs))}")
    return " ".join(words)


def code_views(
    endpoint: Endpoint, values: Mapping[str, Any], files: Mapping[str, Path], *, stream: bool = True
) -> tuple[str, str, str]:
    """The API accordion's params JSON, Python and cURL for `endpoint`."""
    return (
        params_json(values, files),
        python_snippet(endpoint, values, files, stream=stream),
        curl_snippet(endpoint, values, files),
    )


def form_defaults(fields: Sequence[Field]) -> dict[str, Any]:
    """The params shown before the first run: the basic fields' own values (uploads left to
    the workflow's own files), so the snippets run as they are and show what to change."""
    return {f.key: f.value for f in fields if not f.advanced and f.kind not in MEDIA_KINDS}


def params_json(values: Mapping[str, Any], files: Mapping[str, Path]) -> str:
    shown = {**values, **{key: f"<file: {path.name}>" for key, path in files.items()}}
    return json.dumps(shown, indent=2, ensure_ascii=False)


def python_snippet(
    endpoint: Endpoint, values: Mapping[str, Any], files: Mapping[str, Path], *, stream: bool = True
) -> str:
    """Our client's call: `infer_with_logs` (live logs), or `infer` when `stream` is False."""
    call = "infer_with_logs" if stream else "infer"
    if endpoint.local:
        url = f"os.environ.get({API_URL_VARIABLE!r}, {LOCAL_URL!r})"
        keys = [
            '    client_id=os.environ.get("VIEWCOMFY_CLIENT_ID", ""),',
            '    client_secret=os.environ.get("VIEWCOMFY_CLIENT_SECRET", ""),',
        ]
    else:
        url = repr(endpoint.url)
        keys = [
            '    client_id=os.environ["VIEWCOMFY_CLIENT_ID"],',
            '    client_secret=os.environ["VIEWCOMFY_CLIENT_SECRET"],',
        ]
    options = []
    if endpoint.protocol == "realtime":
        options.append('    protocol="realtime",')
        gateway = url if endpoint.local else repr(endpoint.gateway_url or DEFAULT_GATEWAY)
        if gateway != repr(DEFAULT_GATEWAY):
            options.append(f"    gateway_url={gateway},")
    if endpoint.workflow_api is not None:  # one of a curated file's other workflows
        options.append(
            '    override_workflow_api=json.load(open("workflow_api.json")),  # this form\'s'
            " workflowApiJSON"
        )
    lines = [
        *_local_note(endpoint, "#"),
        "import asyncio, json, os" if endpoint.workflow_api is not None else "import asyncio, os",
        "from pathlib import Path",
        f"from viewcomfy_ui.api import {call}",
        "from viewcomfy_ui.outputs import save_outputs",
        "",
        "params = {",
        *(f"    {key!r}: {value!r}," for key, value in values.items()),  # repr: valid Python
        "}",
        *(f"params[{key!r}] = Path({path.name!r})" for key, path in files.items()),
        "",
        f"result = asyncio.run({call}(",
        "    params=params,",
        *(["    logging_callback=print,"] if stream else []),
        f"    api_url={url},",
        *keys,
        *options,
        "))",
        'print(save_outputs(result, "outputs"))',
    ]
    return "\n".join(lines)


def curl_snippet(endpoint: Endpoint, values: Mapping[str, Any], files: Mapping[str, Path]) -> str:
    """The same run with curl: one POST (sse), or submit then poll for results (realtime)."""
    local = f'"${{{API_URL_VARIABLE}:-{LOCAL_URL}}}"'
    url = local if endpoint.local else shlex.quote(endpoint.url)
    keys = ['-H "client_id: $VIEWCOMFY_CLIENT_ID"', '-H "client_secret: $VIEWCOMFY_CLIENT_SECRET"']
    form = [f"-F {shlex.quote('params=' + json.dumps(values, ensure_ascii=False))}"]
    form += [f"-F {shlex.quote(f'{key}=@{path.name}')}" for key, path in files.items()]
    note = _local_note(endpoint, "#")
    if endpoint.protocol == "sse":
        parts = [f"curl -X POST {url}", *keys, "-F logs=false", *form, f"--max-time {MAX_TIME} -L"]
        return "\n".join([*note, " \\\n  ".join(parts)])
    if endpoint.local:  # the local server is its own gateway
        gateway = local[:-1] + '/api/workflow/infer"'
    else:
        base = (endpoint.gateway_url or DEFAULT_GATEWAY).rstrip("/")
        gateway = shlex.quote(base + "/api/workflow/infer")
    submit = [
        f"curl -X POST {gateway}",
        *keys,
        '-F "prompt_id=$PROMPT_ID"',
        f"-F view_comfy_api_url={url}",
        *form,
    ]
    poll = gateway[:-1] + '/"' if gateway.endswith('"') else gateway + "/"
    results = [f"curl -G {poll}", *keys, '--data-urlencode "prompt_ids=$PROMPT_ID"']
    return "\n".join(
        [
            *note,
            "PROMPT_ID=$(python3 -c 'import uuid; print(uuid.uuid4())')",
            " \\\n  ".join(submit),
            '# then, until the answer says "completed": true (outputs are download links):',
            " \\\n  ".join(results),
        ]
    )


def _local_note(endpoint: Endpoint, comment: str) -> list[str]:
    """For the built-in engine: how to start the same engine, so the snippet runs as shown."""
    if not endpoint.local:
        return []
    command = endpoint.serve_command or SERVE
    return [
        f"{comment} This page runs on its built-in engine. To run this yourself on this machine,",
        f"{comment} start the same engine in another terminal (no keys needed; it listens on",
        f"{comment} {LOCAL_URL}, or set ${API_URL_VARIABLE} to another server):",
        f"{comment}   {command}",
    ]
