"""The local ViewComfy-compatible server, over real HTTP, through the project's client."""

from __future__ import annotations

import asyncio
import io
import json
import threading
import time

import httpx
import pytest
from local_server import DEMO_INPUTS, local_server
from PIL import Image

from viewcomfy_ui.api import ViewComfyClient
from viewcomfy_ui.errors import AuthenticationError, HTTPStatusError, RunFailedError
from viewcomfy_ui.server.engine import BuiltinEngine

SEED_KEY = "3-inputs-value"


@pytest.fixture(scope="module")
def url():
    with local_server() as u:
        yield u


def png_bytes(size=(40, 30), color=(10, 200, 30, 255)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


async def test_demo_streams_logs_then_image_and_animation(url):
    logs = []
    async with ViewComfyClient(url) as client:
        result = await client.infer_with_logs({SEED_KEY: 123}, logs.append)
    assert logs[0] == "got prompt" and logs[-1].startswith("Prompt executed in")
    assert any("%|" in line and "it/s]" in line for line in logs)
    kinds = {o.content_type for o in result.outputs}
    assert kinds == {"image/png", "image/webp"}
    webp = next(o for o in result.outputs if o.content_type == "image/webp")
    with Image.open(io.BytesIO(webp.content())) as anim:
        assert anim.n_frames == 2
    png = next(o for o in result.outputs if o.content_type == "image/png")
    assert Image.open(io.BytesIO(png.content())).size == (512, 384)
    assert result.prompt["3"]["inputs"]["value"] == 123


async def test_plain_request_with_upload_and_changed_size(url):
    async with ViewComfyClient(url) as client:
        result = await client.infer(
            {
                "1-inputs-image": png_bytes(),
                "2-inputs-width": 64,
                "2-inputs-height": 48,
                "4-inputs-width": 64,
                "4-inputs-height": 48,
            }
        )
    png = next(o for o in result.outputs if o.content_type == "image/png")
    image = Image.open(io.BytesIO(png.content()))
    assert image.size == (64, 48)
    assert result.prompt["1"]["inputs"]["image"] != "viewcomfy_demo.png"


async def test_concurrent_runs_keep_their_own_outputs(url):
    async def run(width):
        async with ViewComfyClient(url) as client:
            params = {"2-inputs-width": width, "4-inputs-width": width, SEED_KEY: width}
            result = await client.infer_with_logs(params, lambda _: None)
        png = next(o for o in result.outputs if o.content_type == "image/png")
        return Image.open(io.BytesIO(png.content())).size[0]

    widths = [32 + 8 * i for i in range(8)]
    assert await asyncio.gather(*(run(w) for w in widths)) == widths


def post(url, fields, files=None, headers=None):
    parts = [(k, (None, v)) for k, v in fields.items()] + list((files or {}).items())
    return httpx.post(url, files=parts, headers=headers or {}, timeout=30)


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"logs": "false", "params": "{bad"}, "params is not valid JSON"),
        (
            {"logs": "false", "params": '{"3-inputs-value": 1}', "workflow_api": "[nope"},
            "workflow_api is not valid JSON",
        ),
        ({"logs": "false", "params": '{"77-inputs-value": 1}'}, "77-inputs-value"),
        ({"logs": "false", "params": '{"3-inputs-nothing": 1}'}, "3-inputs-nothing"),
        ({"logs": "false"}, "params is missing"),
        ({"logs": "false", "params": "{}"}, "params is empty"),
        ({"logs": "false", "params": '{"1-inputs-image": "not_uploaded.png"}'}, "1-inputs-image"),
    ],
)
def test_bad_input_is_422_naming_the_problem(url, fields, needle):
    reply = post(url, fields)
    assert reply.status_code == 422
    assert needle in reply.json()["detail"]


def test_upload_over_the_limit_is_413():
    with local_server(max_upload_bytes=1000) as url:
        reply = post(
            url, {"logs": "false", "params": "{}"}, {"1-inputs-image": ("big.png", b"x" * 5000)}
        )
    assert reply.status_code == 413


async def test_unsupported_node_is_an_error_event_naming_node_class_and_engine(url):
    workflow = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15.safetensors"}},
        "2": {
            "class_type": "EmptyImage",
            "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0},
        },
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "x"}},
        "4": {"class_type": "KSampler", "inputs": {"model": ["1", 0], "seed": 1}},
        "5": {"class_type": "PreviewAny", "inputs": {"source": ["4", 0]}},
    }
    async with ViewComfyClient(url) as client:
        with pytest.raises(RunFailedError) as err:
            await client.infer_with_logs(
                {"2-inputs-width": 4}, lambda _: None, override_workflow_api=workflow
            )
    message = str(err.value)
    assert "KSampler" in message or "CheckpointLoaderSimple" in message
    assert "comfyui" in message.lower()


async def test_keys_are_checked_when_configured():
    with local_server(client_id="me", client_secret="right-secret") as url:
        async with ViewComfyClient(url, "me", "wrong-secret") as client:
            with pytest.raises(AuthenticationError):
                await client.infer({SEED_KEY: 1})
        async with ViewComfyClient(url, "me", "right-secret") as client:
            assert (await client.infer({SEED_KEY: 1})).completed


class SlowEngine(BuiltinEngine):
    """A run that logs one line, then lasts until it is cancelled."""

    def __init__(self):
        self.stopped = threading.Event()

    def check(self, workflow, inputs):
        pass

    def run(self, workflow, inputs, log, cancelled):
        log("got prompt")
        if cancelled.wait(60):
            self.stopped.set()
            raise RuntimeError("cancelled")
        return []


@pytest.mark.parametrize("logs", [True, False])
def test_client_that_disconnects_stops_its_run(logs):
    engine = SlowEngine()
    with local_server(engine=engine) as url:
        parts = [
            ("logs", (None, "true" if logs else "false")),
            ("params", (None, json.dumps({SEED_KEY: 1}))),
        ]
        if logs:
            with (
                httpx.Client(timeout=30) as client,
                client.stream("POST", url, files=parts) as response,
            ):
                next(response.iter_lines())
        else:  # no reply comes before the run ends: give up waiting, as a cancelled request does
            with (
                pytest.raises(httpx.ReadTimeout),
                httpx.Client(timeout=httpx.Timeout(30, read=0.5)) as client,
            ):
                client.post(url, files=parts)
        assert engine.stopped.wait(3), "the run must stop when its client goes away"


def test_serve_command_runs_standalone(tmp_path):
    import socket
    import subprocess
    import sys

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "viewcomfy_ui",
            "serve",
            "--port",
            str(port),
            "--input-dir",
            str(DEMO_INPUTS),
        ],
        cwd=tmp_path,
        env={**__import__("os").environ, "PYTHONPATH": str(DEMO_INPUTS.parent.parent)},
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        reply = post(
            f"http://127.0.0.1:{port}/", {"logs": "false", "params": json.dumps({SEED_KEY: 5})}
        )
        assert reply.status_code == 201 and len(reply.json()["outputs"]) == 2
    finally:
        proc.terminate()
        proc.wait(10)


async def test_http_error_from_server_reaches_client_as_typed_error(url):
    async with ViewComfyClient(url) as client:
        with pytest.raises(HTTPStatusError) as err:
            await client.infer({"99-inputs-x": 1})
    assert err.value.status_code == 422 and "99" in str(err.value)
