"""The local ViewComfy-compatible server, over real HTTP, through the project's client."""

from __future__ import annotations

import asyncio
import gc
import io
import json
import socket
import threading
import time
import tracemalloc
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from local_server import DEMO_INPUTS, local_server
from PIL import Image

from viewcomfy_ui.api import ViewComfyClient
from viewcomfy_ui.errors import AuthenticationError, HTTPStatusError, RunFailedError
from viewcomfy_ui.server.engine import BuiltinEngine
from viewcomfy_ui.server.http import ConnectionLimits

pytestmark = pytest.mark.leak_prone
SEED_KEY = "3-inputs-value"


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("work")


@pytest.fixture(scope="module")
def url(work):
    with local_server(work_dir=work) as u:
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


TOO_WIDE = {  # fails in node 3: a WebP image is at most 16383 pixels wide
    "1": {"class_type": "EmptyImage", "inputs": {"width": 16384, "height": 1, "color": 0}},
    "3": {"class_type": "SaveAnimatedWEBP", "inputs": {"images": ["1", 0]}},
}
TOO_WIDE_FAILURE = {
    "exception_message": "a WebP image is at most 16383 pixels a side, not 16384x1: scale it down, or save it with SaveAnimatedPNG",
    "node_id": "3",
    "node_type": "SaveAnimatedWEBP",
}


def error_event(url: str, fields: dict[str, str]) -> str:
    """The data of the SSE `error` event a run sends (plain httpx, no project client)."""
    parts = [(k, (None, v)) for k, v in fields.items()]
    with httpx.stream("POST", url, files=parts, timeout=60) as reply:
        assert reply.status_code == 201
        lines = list(reply.iter_lines())
    return lines[lines.index("event: error") + 1].removeprefix("data: ")


def test_a_node_failure_is_an_sse_error_event_holding_the_node_as_json(url):
    fields = {"logs": "true", "params": '{"1-inputs-color": 1}'}
    data = error_event(url, {**fields, "workflow_api": json.dumps(TOO_WIDE)})
    assert json.loads(data) == TOO_WIDE_FAILURE


def test_a_failed_plain_run_is_500_with_one_line_and_the_failure(url):
    fields = {"logs": "false", "params": '{"1-inputs-color": 1}'}
    reply = post(url, {**fields, "workflow_api": json.dumps(TOO_WIDE)})
    assert reply.status_code == 500
    assert reply.json() == {
        "detail": f"node 3 (SaveAnimatedWEBP): {TOO_WIDE_FAILURE['exception_message']}",
        "error_data": TOO_WIDE_FAILURE,
    }


class BrokenEngine(BuiltinEngine):
    def run(self, *args, **kwargs):
        raise ZeroDivisionError("a bug, with /srv/private/paths in it")


def test_an_engine_bug_is_logged_and_named_by_its_type_alone(caplog):
    with local_server(engine=BrokenEngine()) as url:
        data = error_event(url, {"logs": "true", "params": '{"3-inputs-value": 1}'})
        reply = post(url, {"logs": "false", "params": '{"3-inputs-value": 1}'})
    failure = {
        "exception_message": "internal error in the engine: ZeroDivisionError",
        "node_id": "",
        "node_type": "",
    }
    assert json.loads(data) == failure
    assert reply.status_code == 500 and reply.json()["error_data"] == failure
    assert "private" not in reply.text and "private" not in data
    assert any(r.exc_info and r.exc_info[0] is ZeroDivisionError for r in caplog.records)


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


# --- hostile and huge inputs (issue 10) ----------------------------------------------------------

SMALL_BUDGET = 48 * 2**20


def run_folders(work: Path) -> list[Path]:
    return list(work.glob("viewcomfy-run-*"))


def apng(size: int, frames: int) -> bytes:
    buffer = io.BytesIO()
    images = [Image.new("RGB", (size, size), (i * 40, 0, 0)) for i in range(frames)]
    images[0].save(buffer, format="PNG", save_all=True, append_images=images[1:])
    return buffer.getvalue()


@pytest.fixture(scope="module")
def small_budget_url():
    with local_server(engine=BuiltinEngine(max_image_bytes=SMALL_BUDGET)) as u:
        yield u


@pytest.mark.parametrize(
    ("workflow", "files", "needle"),
    [
        (  # 4096x4096 is 192 MiB as float32
            {"2": {"class_type": "EmptyImage", "inputs": {"width": 4096, "height": 4096}}},
            {},
            "node 2 (EmptyImage) would make 1 image(s) of 4096x4096",
        ),
        (
            {
                "2": {
                    "class_type": "EmptyImage",
                    "inputs": {"width": 64, "height": 64, "batch_size": 4096},
                }
            },
            {},
            "4096 image(s) of 64x64",
        ),
        (  # one frame fits the budget, three do not: frames are counted from the header
            {"1": {"class_type": "LoadImage", "inputs": {"image": "anim.png"}}},
            {"1-inputs-image": ("anim.png", apng(1100, 3))},
            "node 1 (LoadImage) would make 3 image(s) of 1100x1100",
        ),
        (
            {
                "2": {"class_type": "EmptyImage", "inputs": {"width": 512, "height": 512}},
                "3": {"class_type": "ImageScaleBy", "inputs": {"image": ["2", 0], "scale_by": 8.0}},
            },
            {},
            "node 3 (ImageScaleBy) would make 1 image(s) of 4096x4096",
        ),
    ],
)
def test_runs_over_the_image_budget_are_refused_before_allocating(
    small_budget_url, workflow, files, needle
):
    last = max(workflow, key=int)
    graph = {
        **workflow,
        "9": {"class_type": "SaveImage", "inputs": {"images": [last, 0], "filename_prefix": "x"}},
    }
    params = {"9-inputs-filename_prefix": "big"}
    tracemalloc.start()
    try:
        reply = post(
            small_budget_url,
            {"logs": "false", "params": json.dumps(params), "workflow_api": json.dumps(graph)},
            files,
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert reply.status_code == 422, reply.text
    assert needle in reply.json()["detail"] and "the limit is 48 MiB" in reply.json()["detail"]
    assert peak < SMALL_BUDGET, "refused from sizes and headers, not after decoding"


def test_the_image_budget_is_configurable(monkeypatch):
    graph = {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 1024, "height": 1024, "color": 0}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0]}},
    }
    with local_server(engine=BuiltinEngine(), workflow=graph) as url:
        allowed = post(url, {"logs": "false", "params": '{"1-inputs-color": 1}'})
    monkeypatch.setenv("VIEWCOMFY_MAX_IMAGE_MB", "1")
    with local_server(engine=BuiltinEngine(), workflow=graph) as url:
        refused = post(url, {"logs": "false", "params": '{"1-inputs-color": 1}'})
    assert allowed.status_code == 201
    assert refused.status_code == 422 and "the limit is 1 MiB" in refused.json()["detail"]


def test_failed_runs_release_their_images_without_the_garbage_collector():
    """Each run makes 2 x 192 MiB of images, then fails in SaveImage (an empty crop)."""
    graph = {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": 16384, "height": 256, "batch_size": 4, "color": 0},
        },
        "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
        "4": {"class_type": "SaveAnimatedWEBP", "inputs": {"images": ["2", 0]}},
    }
    with local_server(workflow=graph) as url:
        gc.collect()
        gc.disable()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for logs in ("false", "true", "false"):
                reply = post(url, {"logs": logs, "params": '{"1-inputs-color": 5}'})
                assert "at most 16383 pixels a side" in reply.text
            held = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
            gc.enable()
    assert held < 64 * 2**20, f"{held / 2**20:.0f} MiB still held after 3 failed runs"


DEEP = "[" * 1000 + "]" * 1000


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"params": json.dumps({"1-inputs-image": "a\0b.png"})}, "1-inputs-image"),
        (
            {
                "params": '{"1-inputs-width": 8}',
                "workflow_api": json.dumps({"1": {"class_type": "EmptyImage", "inputs": None}}),
            },
            "inputs must be a JSON object, not null",
        ),
        ({"params": '{"3-inputs-value": 1}', "workflow_api": "[1, 2]"}, "not a JSON array"),
        ({"params": '{"3-inputs-value": ' + DEEP + "}"}, "nested deeper than 64 levels"),
        (
            {"params": '{"3-inputs-value": 1}', "workflow_api": '{"1": ' + DEEP + "}"},
            "nested deeper than 64 levels",
        ),
        ({"params": '{"3-inputs-value": ' + "9" * 4300 + "}"}, "'3-inputs-value' is an integer"),
        ({"params": '{"3-inputs-value": ' + "9" * 5000 + "}"}, "params is not usable JSON"),
        ({"params": '{"3-inputs-value": NaN}'}, "send a finite number"),
        ({"params": '{"2-inputs-width": "wide"}'}, "node 2 (ImageScale)"),
    ],
)
def test_hostile_values_are_422_naming_the_problem_and_leave_no_run_folder(
    url, work, fields, needle
):
    upload = (
        {} if "1-inputs-image" in fields["params"] else {"1-inputs-image": ("x.png", png_bytes())}
    )
    reply = post(url, {"logs": "false", **fields}, upload)
    assert reply.status_code == 422, reply.text
    assert needle in reply.json()["detail"]
    assert run_folders(work) == [], "the run folder is removed"


def raw_request(url: str, head: bytes, body: bytes = b"") -> bytes:
    """Send a request head and some body, then read the server's answer: b"" if it just closes."""
    host, port = httpx.URL(url).host, httpx.URL(url).port
    answer = b""
    with socket.create_connection((host, port), timeout=20) as sock:
        try:
            sock.sendall(head + body)
            while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) < _length(
                answer
            ):
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
        except ConnectionResetError:  # closed with our data unread
            pass
    return answer


def _length(answer: bytes) -> int:
    for line in answer.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def multipart_head(path: str = "/", extra: str = "") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n{extra}"
        "Content-Type: multipart/form-data; boundary=XX\r\n\r\n"
    ).encode()


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


@pytest.mark.parametrize(
    ("part", "needle"),
    [
        (
            b'--XX\r\nContent-Disposition: form-data; name="1-inputs-image"; filename="a.png"\r\n\r\n'
            + b"x" * 3000,
            b"upload '1-inputs-image' is over the 2000 byte limit",
        ),
        (
            b'--XX\r\nContent-Disposition: form-data; name="params"\r\n\r\n' + b"x" * 3000,
            b"the text fields are over the 1000 byte limit",
        ),
    ],
)
def test_size_limits_hold_while_a_chunked_body_streams_in(tmp_path, part, needle):
    """The body never ends: only a limit enforced while reading can answer."""
    with local_server(max_upload_bytes=2000, max_text_bytes=1000, work_dir=tmp_path) as url:
        for path in ("/", "/api/workflow/infer"):
            answer = raw_request(url, multipart_head(path), chunk(part))
            assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
            assert needle in answer
        assert run_folders(tmp_path) == []


def test_a_request_head_that_never_ends_is_cut_off_and_connections_are_capped():
    limits = ConnectionLimits(head_timeout=0.5, body_timeout=0.5, max_connections=8)
    with local_server(limits=limits) as url:
        assert raw_request(url, b"POST / HTTP/1.1\r\nHost: x\r\nX-Slow: 1") == b"", "a slow head"
        assert raw_request(url, multipart_head(), chunk(b"--XX\r\n")) == b"", "a stalled body"
        host, port = httpx.URL(url).host, httpx.URL(url).port
        held = [socket.create_connection((host, port)) for _ in range(8)]
        try:
            over = raw_request(url, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        finally:
            for sock in held:
                sock.close()
        assert over == b"", "a connection over the cap is closed at once"
        assert httpx.get(url + "health").status_code == 200, "the server still serves"


def test_runs_at_once_share_one_image_budget_and_wait_their_turn():
    engine = BuiltinEngine(max_image_bytes=SMALL_BUDGET)
    with local_server(engine=engine) as url:
        parts = {"logs": (None, "true"), "params": (None, json.dumps({SEED_KEY: 3}))}
        with ExitStack() as other_runs:
            other_runs.enter_context(
                engine.memory.hold(engine.memory.capacity, threading.Event(), print)
            )
            with (
                httpx.Client(timeout=60) as client,
                client.stream("POST", url, files=parts) as reply,
            ):
                lines = reply.iter_lines()
                waited = next(line for line in lines if "waiting" in line or "result" in line)
                other_runs.close()
                rest = list(lines)
    assert waited == "data: waiting for other runs to free memory"
    assert "event: prompt_result" in rest


def test_a_node_error_names_the_file_but_not_the_servers_folders(tmp_path):
    import threading

    from viewcomfy_ui.server.engine import EngineError, InputFiles

    uploads, shared = tmp_path / "run-7f3a" / "uploads", tmp_path / "input"
    uploads.mkdir(parents=True)
    shared.mkdir()
    (shared / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)  # header, no image
    workflow = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "broken.png"}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}},
    }
    with pytest.raises(EngineError) as error:
        BuiltinEngine().run(workflow, InputFiles(uploads, shared), print, threading.Event())
    message = str(error.value)
    assert "node 1 (LoadImage)" in message and "broken.png" in message
    assert str(tmp_path) not in message, "the server's folders stay private"


@pytest.mark.parametrize("port", ["99999", "-5"])
def test_serve_refuses_a_bad_port_in_one_line(port):
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "viewcomfy_ui", "serve", "--port", port],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert "must be a port number from 1 to 65535" in done.stderr
    assert "Traceback" not in done.stderr and "running" not in done.stdout


def test_serve_on_a_busy_port_says_so_before_starting():
    import socket
    import subprocess
    import sys

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        done = subprocess.run(
            [sys.executable, "-m", "viewcomfy_ui", "serve", "--port", port],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert done.returncode != 0
    assert (
        f"cannot listen on 127.0.0.1:{port}" in done.stderr and "pick another --port" in done.stderr
    )
    assert "Traceback" not in done.stderr and "running" not in done.stdout


def test_a_model_node_refusal_says_in_words_where_to_run_it():
    from viewcomfy_ui.server.engine import EngineError, InputFiles

    workflow = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15.safetensors"}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}},
    }
    with pytest.raises(EngineError) as error:
        BuiltinEngine().check(workflow, InputFiles(Path("."), None))
    assert "your own ComfyUI or on ViewComfy" in str(error.value)
    assert "--engine" not in str(error.value) and "--comfyui-url" not in str(error.value)


def test_a_refusal_names_the_same_node_every_time_the_first_in_the_file():
    from viewcomfy_ui.server.engine import InputFiles, NodeFailure

    models = {str(n): {"class_type": "CLIPLoader", "inputs": {}} for n in range(30, 0, -1)}
    images = {f"s{n}": [n, 0] for n in models}  # one output needing all 30
    workflow = models | {"save": {"class_type": "SaveImage", "inputs": images}}
    with pytest.raises(NodeFailure) as error:  # a set's order would name any of the 30
        BuiltinEngine().check(workflow, InputFiles(Path("."), None))
    assert (error.value.node_id, error.value.node_type) == ("30", "CLIPLoader")
    assert error.value.reason.startswith("cannot run on the built-in engine")
