"""The API accordion's Python and cURL: valid code for the run, in the endpoint's protocol, with
no key and no loopback URL."""

from __future__ import annotations

import ast
import shlex
from pathlib import Path

from viewcomfy_ui.demo import DEMO_WORKFLOW
from viewcomfy_ui.ui.runner import Endpoint
from viewcomfy_ui.ui.snippets import code_views, curl_snippet, python_snippet, serve_command

TRICKY = {
    "6-inputs-text": "style: true, mood: null, done: false",
    "7-inputs-text": "quotes ' and \" and a\nnewline",
    "3-inputs-seed": 18446744073709551615,
    "3-inputs-cfg": 7.5,
    "3-inputs-denoise": True,
    "9-inputs-none": None,
}
REMOTE = Endpoint("https://deploy.example/api", "id-1234", "secret-5678", protocol="sse")


def python_params(code: str) -> dict:
    """The value the snippet assigns to `params`, evaluated as Python would."""
    tree = ast.parse(code)
    assign = next(n for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "params")
    return ast.literal_eval(assign.value)


def call_keywords(code: str) -> dict[str, str]:
    call = next(
        n
        for n in ast.walk(ast.parse(code))
        if getattr(n, "func", None) and getattr(n.func, "id", "") == "infer_with_logs"
    )
    return {k.arg: ast.unparse(k.value) for k in call.keywords}


def test_python_snippet_keeps_every_value_exactly():
    code = python_snippet(REMOTE, TRICKY, {})
    assert python_params(code) == TRICKY  # the prompt's "true"/"null" stay text
    assert "style: true, mood: null, done: false" in code


def test_snippets_name_files_and_never_the_secret():
    files = {"52-inputs-image": Path("/tmp/run-x/cat photo.png")}
    for protocol in ("sse", "realtime"):
        endpoint = Endpoint(REMOTE.url, "id-1234", "secret-5678", protocol=protocol)
        params, python, curl = code_views(endpoint, {"a": 1}, files)
        assert "cat photo.png" in params and "/tmp/run-x" not in python + curl
        assert "Path('cat photo.png')" in python
        assert "'52-inputs-image=@cat photo.png'" in curl
        for text in (params, python, curl):
            assert "secret-5678" not in text and "id-1234" not in text
        assert (
            "$VIEWCOMFY_CLIENT_SECRET" in curl and 'os.environ["VIEWCOMFY_CLIENT_SECRET"]' in python
        )


def test_local_engine_snippets_say_how_to_start_it_and_never_show_its_port():
    command = "python -m viewcomfy_ui serve --workflow my_api.json"
    local = Endpoint("http://127.0.0.1:45123/", local=True, protocol="sse", serve_command=command)
    _, python, curl = code_views(local, {"a": 1}, {})
    assert "45123" not in python + curl
    for text in (python, curl):
        assert f"#   {command}" in text, "how to start the engine the snippet calls"
    keywords = call_keywords(python)
    assert keywords["api_url"] == "os.environ.get('VIEWCOMFY_API_URL', 'http://127.0.0.1:8000')"
    assert keywords["client_id"] == "os.environ.get('VIEWCOMFY_CLIENT_ID', '')", "no keys needed"
    assert _curl_commands(curl)[0][3] == "${VIEWCOMFY_API_URL:-http://127.0.0.1:8000}"
    realtime = Endpoint(local.url, local=True, protocol="realtime", gateway_url=local.url)
    _, python, curl = code_views(realtime, {"a": 1}, {})
    assert "45123" not in python + curl and "api.viewcomfy.com" not in python + curl
    assert call_keywords(python)["gateway_url"] == keywords["api_url"], "its own gateway"
    submit, _ = _curl_commands(curl)
    assert submit[3] == "${VIEWCOMFY_API_URL:-http://127.0.0.1:8000}/api/workflow/infer"


def test_serve_command_names_the_workflow_and_engine(tmp_path):
    assert serve_command(DEMO_WORKFLOW) == "python -m viewcomfy_ui serve"
    mine = tmp_path / "my flow.json"
    mine.write_text("{}")
    assert serve_command(mine, "http://127.0.0.1:8188") == (
        "python -m viewcomfy_ui serve --engine comfyui --comfyui-url http://127.0.0.1:8188 "
        f"--workflow '{mine}'"
    )


def test_wait_for_the_result_shows_infer_without_logs():
    python = python_snippet(REMOTE, {"a": 1}, {}, stream=False)
    assert "infer(" in python and "infer_with_logs" not in python
    assert "logging_callback" not in python
    ast.parse(python)


def test_sse_snippets_post_to_the_endpoint():
    _, python, curl = code_views(REMOTE, TRICKY, {})
    assert "protocol" not in call_keywords(python)
    [words] = _curl_commands(curl)
    assert words[:4] == ["curl", "-X", "POST", REMOTE.url]
    assert "logs=false" in words
    params = words[words.index("-F", words.index("logs=false")) + 1]
    assert params.startswith("params=") and '"style: true, mood: null, done: false"' in params


def test_realtime_snippets_use_the_gateway():
    endpoint = Endpoint(
        REMOTE.url, "id", "sec", protocol="realtime", gateway_url="https://gw.example"
    )
    _, python, curl = code_views(endpoint, {"a": 1}, {})
    keywords = call_keywords(python)
    assert (
        keywords["protocol"] == "'realtime'" and keywords["gateway_url"] == "'https://gw.example'"
    )
    assert keywords["api_url"] == repr(REMOTE.url)
    submit, poll = _curl_commands(curl)
    assert submit[:4] == ["curl", "-X", "POST", "https://gw.example/api/workflow/infer"]
    assert "view_comfy_api_url=" + REMOTE.url in submit and "prompt_id=$PROMPT_ID" in submit
    assert "-H" in submit and "client_secret: $VIEWCOMFY_CLIENT_SECRET" in submit
    assert poll[:3] == ["curl", "-G", "https://gw.example/api/workflow/infer/"]
    assert "prompt_ids=$PROMPT_ID" in poll


def test_default_gateway_is_not_repeated_in_python():
    endpoint = Endpoint(REMOTE.url, protocol="realtime", gateway_url="https://api.viewcomfy.com")
    assert "gateway_url" not in call_keywords(python_snippet(endpoint, {}, {}))
    assert curl_snippet(endpoint, {}, {}).count("https://api.viewcomfy.com") == 2


def _curl_commands(text: str) -> list[list[str]]:
    """The curl commands of a snippet, each split as the shell would."""
    joined = text.replace("\\\n", " ")
    return [shlex.split(line) for line in joined.splitlines() if line.startswith("curl")]


def test_another_workflow_of_a_file_is_sent_along():
    endpoint = Endpoint(REMOTE.url, "id", "sec", workflow_api={"8": {"class_type": "X"}})
    python = python_snippet(endpoint, {"8-inputs-alpha": 1.5}, {})
    assert "override_workflow_api" in call_keywords(python)
    assert "import asyncio, json, os" in python
    ast.parse(python)
    assert "override_workflow_api" not in python_snippet(REMOTE, {}, {})
