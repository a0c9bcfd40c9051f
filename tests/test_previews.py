"""Live previews (our extension of ViewComfy's protocols, docs/extensions.md): engine frames ->
server (newest only, at most 8 a second, small JPEGs) -> SSE `preview` / realtime
`infer_preview_message` -> the client's `on_preview`."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from local_server import local_server
from PIL import Image
from scripted_server import Reply, ScriptedServer, result_json, sse

from viewcomfy_ui.api import Preview, SyncViewComfyClient, ViewComfyClient
from viewcomfy_ui.models import MAX_PREVIEW_BYTES, PREVIEWS_HEADER
from viewcomfy_ui.server.comfyui import preview_frame
from viewcomfy_ui.server.engine import BuiltinEngine
from viewcomfy_ui.server.nodes import OutputFile
from viewcomfy_ui.server.preview import MAX_SIDE, small_jpeg

pytestmark = pytest.mark.leak_prone
DEMO_PARAMS = {"5-inputs-blend_factor": 0.5}
SSE_HEADERS = {"Content-Type": "text/event-stream"}


def jpeg(size=(64, 48), color=(200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="JPEG")
    return buffer.getvalue()


def realtime(url: str) -> ViewComfyClient:
    return ViewComfyClient(url, "id", "secret", protocol="realtime", gateway_url=url)


class FloodEngine:
    """Sends `frames` previews as fast as it can (each naming its number as its node), then
    one output: a source far faster than any page should be updated."""

    name = "flood"

    def __init__(self, frames: int) -> None:
        self.frames = frames
        self.image = jpeg()

    def check(self, workflow, inputs):
        pass

    def run(self, workflow, inputs, log, cancelled, preview=None):
        log("got prompt")
        for n in range(self.frames):
            if preview:
                preview(Preview("", str(n), "image/jpeg", self.image))
            if n % 50 == 0:
                log(f"frame {n}")
            time.sleep(0.002)
        log("done")
        return [OutputFile("out.txt", "text/plain", b"ok")]


@pytest.mark.parametrize("protocol", ["sse", "realtime"])
async def test_the_demo_on_the_builtin_engine_sends_previews_while_it_runs(protocol):
    frames: list[tuple[float, Preview]] = []
    logs: list[str] = []
    with local_server() as url:
        client = realtime(url) if protocol == "realtime" else ViewComfyClient(url)
        async with client:
            started = time.monotonic()
            result = await client.infer_with_logs(
                DEMO_PARAMS,
                logs.append,
                on_preview=lambda p: frames.append((time.monotonic() - started, p)),
            )
    assert len(frames) >= 5, frames
    assert frames[-1][0] - frames[0][0] >= 1.0  # spread over the run, not all at its end
    assert {p.prompt_id for _, p in frames} == {result.prompt_id}
    assert "6" in {p.node_id for _, p in frames}  # the blur shows its steps
    for _, frame in frames:
        image = Image.open(io.BytesIO(frame.data))
        assert frame.content_type == "image/jpeg" and image.format == "JPEG"
        assert max(image.size) <= MAX_SIDE
    assert logs[0] == "got prompt" and logs[-1].startswith("Prompt executed")
    assert len(result.outputs) == 2


@pytest.mark.parametrize("protocol", ["sse", "realtime"])
async def test_a_flood_of_frames_reaches_the_client_at_most_8_a_second_newest_last(protocol):
    frames: list[Preview] = []
    logs: list[str] = []
    with local_server(engine=FloodEngine(400)) as url:
        client = realtime(url) if protocol == "realtime" else ViewComfyClient(url)
        async with client:
            started = time.monotonic()
            await client.infer_with_logs(DEMO_PARAMS, logs.append, on_preview=frames.append)
            seconds = time.monotonic() - started
    assert 1 <= len(frames) <= seconds * 8 + 2, (len(frames), seconds)
    numbers = [int(p.node_id) for p in frames]
    assert numbers == sorted(numbers)  # never an older frame after a newer one
    assert logs == ["got prompt", *(f"frame {n}" for n in range(0, 400, 50)), "done"]


async def test_a_plain_request_gets_no_previews_and_is_not_paced():
    with local_server() as url:
        async with ViewComfyClient(url) as client:
            started = time.monotonic()
            await client.infer(DEMO_PARAMS)
    assert time.monotonic() - started < BuiltinEngine().preview_step_seconds * 6


@pytest.mark.parametrize("asks", [False, True])
def test_direct_previews_go_only_to_a_client_that_asks(asks):
    """ViewComfy's own SSE client prints every event it does not know (base64 and all): a
    stream gets `preview` events only with `X-ViewComfy-Previews: 1`, as our client sends."""
    headers = {PREVIEWS_HEADER: "1"} if asks else {}
    form = {"logs": (None, "true"), "params": (None, json.dumps(DEMO_PARAMS))}
    with local_server() as url:
        reply = httpx.post(url, files=form, headers=headers, timeout=60)
    assert reply.status_code == 201 and "event: prompt_result" in reply.text
    assert ("event: preview" in reply.text) is asks


def test_the_sync_client_hands_previews_to_on_preview():
    frames: list[Preview] = []
    with local_server() as url, SyncViewComfyClient(url) as client:
        client.infer_with_logs(DEMO_PARAMS, lambda _: None, on_preview=frames.append)
    assert len(frames) >= 5 and all(isinstance(f, Preview) for f in frames)


async def test_a_client_without_on_preview_ignores_preview_events():
    logs: list[str] = []
    with local_server() as url:
        async with ViewComfyClient(url) as client:
            result = await client.infer_with_logs(DEMO_PARAMS, logs.append)
    assert len(result.outputs) == 2 and not any("image" in line for line in logs)


def preview_event(image: str, content_type: str = "image/jpeg") -> bytes:
    data = {"prompt_id": "p-1", "node_id": "3", "content_type": content_type, "image": image}
    return sse("preview", json.dumps(data))


async def test_oversized_broken_or_foreign_frames_from_a_server_are_dropped_quietly():
    good = base64.b64encode(jpeg()).decode()
    huge = base64.b64encode(b"\xff" * (MAX_PREVIEW_BYTES + 10)).decode()
    events = [
        preview_event(huge),
        preview_event("not base64 !"),
        preview_event(good, "text/html"),
        sse("preview", "{not json"),
        preview_event(good),
        sse("log_message", "got prompt"),
        sse("prompt_result", result_json()),
    ]
    frames: list[Preview] = []
    with ScriptedServer() as server:
        server.replies.append(Reply(201, SSE_HEADERS, b"".join(events)))
        async with ViewComfyClient(server.url, "id", "secret") as client:
            result = await client.infer_with_logs(
                DEMO_PARAMS, lambda _: None, on_preview=frames.append
            )
    assert result.prompt_id == "p-1"
    assert frames == [Preview("p-1", "3", "image/jpeg", jpeg())]


def test_the_server_re_encodes_any_frame_as_a_small_jpeg_and_drops_unreadable_ones():
    buffer = io.BytesIO()
    Image.new("RGBA", (2000, 1000), (0, 0, 255, 128)).save(buffer, format="PNG")
    frame = small_jpeg(Preview("", "7", "image/png", buffer.getvalue()))
    assert frame is not None and frame.content_type == "image/jpeg" and frame.node_id == "7"
    assert Image.open(io.BytesIO(frame.data)).size == (512, 256)
    assert small_jpeg(Preview("", "7", "image/png", b"\x89PNG broken")) is None
    header = io.BytesIO()  # a PNG header announcing 30000 x 30000 pixels: never decoded
    Image.new("1", (30000, 30000)).save(header, format="PNG")
    assert small_jpeg(Preview("", "7", "image/png", header.getvalue())) is None


def test_comfyui_binary_preview_messages_are_read_in_both_formats():
    image = jpeg()
    legacy = struct.pack(">II", 1, 1) + image
    assert preview_frame(legacy, "p", "5") == Preview("", "5", "image/jpeg", image)
    meta = json.dumps({"node_id": "9", "display_node_id": "12:9", "prompt_id": "p",
                       "image_type": "image/png"}).encode()  # fmt: skip
    framed = struct.pack(">II", 4, len(meta)) + meta + image
    assert preview_frame(framed, "p", "5") == Preview("", "12:9", "image/png", image)
    assert preview_frame(framed, "another prompt", "5") is None
    assert preview_frame(struct.pack(">II", 3, 0) + b"text", "p", "5") is None  # TEXT
    assert preview_frame(struct.pack(">II", 4, 999) + b"{}", "p", "5") is None
    assert preview_frame(b"\x00\x00", "p", "5") is None


async def test_previews_never_hold_back_the_result_when_the_callback_is_slow():
    """A slow on_preview delays nothing but previews: the run ends with its result."""
    calls = threading.Semaphore(0)

    async def slow(frame: Preview) -> None:
        calls.release()
        await asyncio.sleep(0.3)

    with local_server(engine=FloodEngine(300)) as url:
        async with realtime(url) as client:
            result = await client.infer_with_logs(DEMO_PARAMS, lambda _: None, on_preview=slow)
    assert result.outputs[0].filename == "out.txt"
    assert calls.acquire(timeout=0)


REFERENCE_CLIENTS = [
    p for p in os.environ.get("VIEWCOMFY_REFERENCE_CLIENTS", "").split(os.pathsep) if p
]


@pytest.mark.skipif(
    not REFERENCE_CLIENTS,
    reason="set VIEWCOMFY_REFERENCE_CLIENTS to ViewComfy's api.py files (realtime: cloud-public "
    "HEAD, SSE: f9a57aa), joined with ':', to run them against a server sending previews",
)
@pytest.mark.parametrize("their_client", REFERENCE_CLIENTS)
def test_viewcomfy_reference_clients_run_unchanged_while_previews_are_sent(their_client):
    script = Path(__file__).resolve().parent.parent / "scripts" / "check_viewcomfy_client.py"
    done = subprocess.run(
        [sys.executable, str(script), their_client], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "ViewComfy's client works against this server." in done.stdout
