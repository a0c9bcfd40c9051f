"""The client against a real loopback server speaking the ViewComfy protocol."""

from __future__ import annotations

import ast
import base64
import binascii
import email.utils
import importlib
import inspect
import io
import itertools
import json
import os
import pkgutil
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import httpx
import interrupt
import pytest
from httpx_sse import EventSource
from hypothesis import given, settings
from hypothesis import strategies as st
from scripted_server import Reply, ScriptedServer, free_port, result_json, sse, stream

from viewcomfy_ui import api, models
from viewcomfy_ui.client import blocks, events, http, realtime, result, urls
from viewcomfy_ui.client import sse as sse_protocol
from viewcomfy_ui.client.events import EventParser
from viewcomfy_ui.errors import (
    APITimeoutError,
    AuthenticationError,
    EmptyParamsError,
    HTTPStatusError,
    IncompleteStreamError,
    MalformedResultError,
    ParamsError,
    ResultTooLargeError,
    RunFailedError,
    TransportError,
    ViewComfyError,
)
from viewcomfy_ui.models import Failure

# A file or socket the client leaks fails these tests, even when only the GC finds it.
pytestmark = [
    pytest.mark.leak_prone,
    pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning"),
]

SECRET = "s3cr3t-value-123"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()
SSE_HEADERS = {"Content-Type": "text/event-stream"}


@pytest.fixture
def server():
    with ScriptedServer() as s:
        yield s


def client(server, **kw):
    return api.ViewComfyClient(server.url, "id-1", SECRET, **kw)


def output(name="ComfyUI_00001_.png", data=PNG):
    return {"filename": name, "content_type": "image/png", "data": data, "size": 12}


async def test_plain_request_sends_protocol_fields_and_returns_result(server):
    server.replies.append(
        Reply(201, {"Content-Type": "application/json"}, result_json([output()]).encode())
    )
    params = {
        "6-inputs-text": "a cat",
        "3-inputs-seed": 2**63 + 5,
        "3-inputs-cfg": 7.5,
        "9-inputs-x": False,
    }
    result = await api.infer(
        params=params, api_url=server.url, client_id="id-1", client_secret=SECRET
    )
    sent = server.requests[0]
    assert sent.headers["client_id"] == "id-1" and sent.headers["client_secret"] == SECRET
    assert sent.fields["logs"] == "false"
    assert json.loads(sent.fields["params"]) == params  # big ints exact, real bools
    assert "workflow_api" not in sent.fields
    assert result.prompt_id == "p-1" and result.completed
    assert result.outputs[0].content().startswith(b"\x89PNG")


async def test_files_go_as_multipart_parts_keyed_by_param(server, tmp_path):
    image = tmp_path / "input photo.png"
    image.write_bytes(b"PNGDATA")
    server.replies.append(Reply(201, {"Content-Type": "application/json"}, result_json().encode()))
    audio = io.BytesIO(b"RIFF")
    params = {"52-inputs-image": image, "10-inputs-audio": audio, "6-inputs-text": "x"}
    async with client(server) as c:
        await c.infer(params, override_workflow_api={"1": {"class_type": "X", "inputs": {}}})
    sent = server.requests[0]
    assert sent.files["52-inputs-image"] == ("input photo.png", b"PNGDATA")
    assert sent.files["10-inputs-audio"][1] == b"RIFF"
    assert json.loads(sent.fields["params"]) == {"6-inputs-text": "x"}
    assert json.loads(sent.fields["workflow_api"])["1"]["class_type"] == "X"
    assert str(image) not in open_files(), "a Path param is closed once sent"
    assert not audio.closed and vars(audio) == {}, "the caller's file is left as it was"


async def test_missing_file_param_is_a_params_error_and_nothing_is_sent(server, tmp_path):
    async with client(server) as c:
        with pytest.raises(ParamsError, match="cannot read the file for '52-inputs-image'"):
            await c.infer({"52-inputs-image": tmp_path / "nope.png", "6-inputs-text": "x"})
    assert server.requests == []


def open_files() -> set[str]:
    fds = "/proc/self/fd"
    return {os.path.realpath(os.path.join(fds, fd)) for fd in os.listdir(fds)}


async def test_stream_logs_reach_callback_in_order_and_multiline_data_joins(server):
    big = json.dumps([output()])
    body = (
        sse("log_message", "got prompt")
        + b": keep-alive comment\n\n"
        + b"id: 7\nretry: 1000\n"
        + sse("log_message", " 50%|#####     | 1/2 [00:01<00:01,  1.00it/s]")
        # the result JSON split over several data: lines, CRLF line endings
        + sse("prompt_result", result_json(json.loads(big)).replace(", ", ",\n"), newline="\r\n")
    )
    server.replies.append(Reply(201, SSE_HEADERS, stream([body[:37], body[37:90], body[90:]])))
    logs, phases = [], []
    async with client(server) as c:
        result = await c.infer_with_logs({"1-inputs-a": 1}, logs.append, on_phase=phases.append)
    assert logs == ["got prompt", " 50%|#####     | 1/2 [00:01<00:01,  1.00it/s]"]
    assert result.outputs[0].filename == "ComfyUI_00001_.png"
    assert phases == ["connecting", "waiting", "running", "receiving"]
    assert server.requests[0].fields["logs"] == "true"


async def test_logs_arrive_before_the_run_ends(server):
    delivered = threading.Event()

    def chunks():
        yield 0.0, sse("log_message", "got prompt")
        # the run goes on until the client has handed the line to its callback
        if delivered.wait(20):
            yield 0.0, sse("prompt_result", result_json())
        else:
            yield 0.0, sse("error", "the log line was not delivered while the run was going")

    server.replies.append(Reply(201, SSE_HEADERS, chunks))
    async with client(server) as c:
        result = await c.infer_with_logs({"1-inputs-a": 1}, lambda line: delivered.set())
    assert result.completed


async def test_error_event_raises_run_failed_with_logs(server):
    body = sse("log_message", "got prompt") + sse("error", "KSampler: CUDA out of memory")
    server.replies.append(Reply(201, SSE_HEADERS, stream([body])))
    async with client(server) as c:
        with pytest.raises(RunFailedError) as err:
            await c.infer_with_logs({"1-inputs-a": 1}, lambda _: None)
    assert "CUDA out of memory" in str(err.value)
    assert err.value.logs == ["got prompt"]


FAILURE = Failure("Invalid image file: x.png", "3", "ImageBlur")


@pytest.mark.parametrize("form", ["json text", "plain text"])
async def test_error_event_gives_the_failure_as_data(server, form):
    """Our server sends the failure as JSON (ComfyUI's execution_error shape); ViewComfy's
    cloud sends text: a reason without a node."""
    data = json.dumps(FAILURE.to_json()) if form == "json text" else FAILURE.reason
    server.replies.append(Reply(201, SSE_HEADERS, stream([sse("error", data)])))
    async with client(server) as c:
        with pytest.raises(RunFailedError) as err:
            await c.infer_with_logs({"1-inputs-a": 1}, lambda _: None)
    node = ("3", "ImageBlur") if form == "json text" else ("", "")
    assert (err.value.reason, err.value.node_id, err.value.node_type) == (FAILURE.reason, *node)
    where = "node 3 (ImageBlur): " if form == "json text" else ""
    assert str(err.value) == f"the run failed: {where}Invalid image file: x.png"


async def test_failed_plain_reply_with_error_data_is_a_run_failed_error(server):
    body = json.dumps({"detail": "the run failed", "error_data": FAILURE.to_json()})
    server.replies.append(Reply(500, {"Content-Type": "application/json"}, body.encode()))
    async with client(server) as c:
        with pytest.raises(RunFailedError) as err:
            await c.infer({"1-inputs-a": 1})
    assert type(err.value) is RunFailedError
    assert (err.value.reason, err.value.node_id, err.value.node_type) == (
        FAILURE.reason,
        "3",
        "ImageBlur",
    )


async def test_dropped_connection_mid_stream_is_incomplete(server):
    server.replies.append(
        Reply(
            201,
            SSE_HEADERS,
            stream([sse("log_message", "got prompt"), b"event: prompt_res"]),
            drop_after=True,
        )
    )
    async with client(server) as c:
        with pytest.raises(IncompleteStreamError) as err:
            await c.infer_with_logs({"1-inputs-a": 1}, lambda _: None)
    assert err.value.logs == ["got prompt"]


async def test_stream_that_ends_without_result_is_incomplete(server):
    server.replies.append(Reply(201, SSE_HEADERS, stream([sse("log_message", "got prompt")])))
    async with client(server) as c:
        with pytest.raises(IncompleteStreamError, match="without a result"):
            await c.infer_with_logs({"1-inputs-a": 1}, lambda _: None)


@pytest.mark.parametrize(
    "payload", ["{not json", "[1, 2]", '{"outputs": "nope"}', '{"outputs": [{"filename": "a"}]}']
)
async def test_malformed_prompt_result(server, payload):
    server.replies.append(Reply(201, SSE_HEADERS, stream([sse("prompt_result", payload)])))
    async with client(server) as c:
        with pytest.raises(MalformedResultError):
            await c.infer_with_logs({"1-inputs-a": 1}, lambda _: None)


async def test_401_is_authentication_error_without_the_secret(server):
    server.replies.append(
        Reply(
            401,
            {"Content-Type": "application/json"},
            json.dumps({"detail": f"bad key {SECRET}"}).encode(),
        )
    )
    async with client(server) as c:
        with pytest.raises(AuthenticationError) as err:
            await c.infer({"1-inputs-a": 1})
    assert err.value.status_code == 401
    assert SECRET not in str(err.value) and "VIEWCOMFY_CLIENT_SECRET" in str(err.value)
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    "echo", [base64.b64encode(SECRET.encode()).decode(), SECRET.upper(), SECRET[:9]]
)
async def test_a_failure_echoing_the_secret_in_another_spelling_hides_it(server, echo):
    failure = {"exception_message": f"bad key {echo}", "node_id": "", "node_type": ""}
    server.replies.append(Reply(200, SSE_HEADERS, stream([sse("error", json.dumps(failure))])))
    async with client(server) as c:
        with pytest.raises(RunFailedError) as err:
            await c.infer_with_logs({"1-inputs-a": 1}, lambda _: None)
    assert echo not in str(err.value) and "***" in str(err.value)


async def test_500_html_body_gives_status_and_readable_message(server):
    html = b"<html><head><title>502 Bad Gateway</title></head><body><h1>oops</h1></body></html>"
    server.replies.append(Reply(500, {"Content-Type": "text/html"}, html))
    async with client(server) as c:
        with pytest.raises(HTTPStatusError) as err:
            await c.infer({"1-inputs-a": 1})
    assert err.value.status_code == 500
    assert "502 Bad Gateway" in str(err.value) and "<" not in str(err.value)
    assert len(server.requests) == 1, "a POST the server accepted is never re-sent"


async def test_429_with_retry_after_is_retried_then_succeeds(server):
    server.replies.append(Reply(429, {"Retry-After": "0.2"}, b"slow down"))
    server.replies.append(Reply(201, {"Content-Type": "application/json"}, result_json().encode()))
    async with client(server) as c:
        result = await c.infer({"1-inputs-a": 1})
    assert result.prompt_id == "p-1"
    assert len(server.requests) == 2


async def test_retry_after_as_an_http_date_is_honoured(server):
    past = email.utils.format_datetime(datetime.now(UTC) - timedelta(seconds=5), usegmt=True)
    server.replies.append(Reply(503, {"Retry-After": past}, b"busy"))
    server.replies.append(Reply(201, {"Content-Type": "application/json"}, result_json().encode()))
    async with client(server) as c:
        assert (await c.infer({"1-inputs-a": 1})).completed
    assert len(server.requests) == 2


@pytest.mark.parametrize(
    ("value", "delay"), [("7", 7.0), ("0.5", 0.5), ("99999", 120.0), ("-3", 0.0), ("soon", None)]
)
def test_retry_after_seconds_are_bounded(value, delay):
    assert http.retry_delay(httpx.Response(429, headers={"Retry-After": value})) == delay


def test_retry_after_date_in_the_future_is_the_time_until_then():
    when = datetime.now(UTC) + timedelta(seconds=30)
    header = email.utils.format_datetime(when, usegmt=True)
    delay = http.retry_delay(httpx.Response(429, headers={"Retry-After": header}))
    assert 25 <= delay <= 30


async def test_429_retries_are_bounded(server):
    server.replies.extend(Reply(429, {"Retry-After": "0"}, b"{}") for _ in range(5))
    async with client(server, max_retries=2) as c:
        with pytest.raises(HTTPStatusError, match="429"):
            await c.infer({"1-inputs-a": 1})
    assert len(server.requests) == 3


async def test_connection_refused_is_retried_then_clear_error():
    phases: list[str] = []
    async with api.ViewComfyClient(
        f"http://127.0.0.1:{free_port()}/", "id", SECRET, max_retries=1
    ) as c:
        with pytest.raises(TransportError, match=r"cannot connect to http://127\.0\.0\.1:"):
            await c.infer({"1-inputs-a": 1}, on_phase=phases.append)
    assert phases == ["connecting", "connecting"], "one retry, then the error"


async def test_connection_refused_is_retried_until_the_server_is_up():
    port = free_port()
    started: list[ScriptedServer] = []

    def on_phase(phase: str) -> None:
        if phase == "connecting" and not started and phases.count("connecting") == 1:
            # the first attempt was refused: the server comes up before the second
            started.append(ScriptedServer(port).__enter__())
            started[0].replies.append(
                Reply(201, {"Content-Type": "application/json"}, result_json().encode())
            )
        phases.append(phase)

    phases: list[str] = []
    try:
        async with api.ViewComfyClient(f"http://127.0.0.1:{port}/", "id", SECRET) as c:
            result = await c.infer({"1-inputs-a": 1}, on_phase=on_phase)
        assert result.completed
        assert phases.count("connecting") == 2
        assert len(started[0].requests) == 1, "the request went exactly once"
    finally:
        for s in started:
            s.__exit__(None, None, None)


async def test_slow_first_byte_is_waited_for(server):
    waiting = threading.Event()

    def cold_start():
        # no byte until the client has shown it is waiting (a worker booting)
        waiting.wait(20)
        yield 0.0, sse("prompt_result", result_json())

    server.replies.append(Reply(201, SSE_HEADERS, cold_start))
    phases: list[str] = []

    def on_phase(phase: str) -> None:
        phases.append(phase)
        if phase == "waiting":
            waiting.set()

    async with client(server, timeout=30) as c:
        result = await c.infer_with_logs({"1-inputs-a": 1}, lambda _: None, on_phase=on_phase)
    assert result.completed
    assert phases == ["connecting", "waiting", "receiving"]


async def test_total_budget_is_enforced(server):
    release = threading.Event()

    def never():
        release.wait(20)  # the run outlives the client's budget
        yield 0.0, sse("prompt_result", result_json())

    server.replies.append(Reply(201, SSE_HEADERS, never))
    try:
        async with client(server, timeout=0.3) as c:
            with pytest.raises(APITimeoutError, match=r"no result within 0\.3 s"):
                await c.infer_with_logs({"1-inputs-a": 1}, lambda _: None)
    finally:
        release.set()


async def test_empty_params_is_refused_before_sending(server):
    async with client(server) as c:
        with pytest.raises(EmptyParamsError, match="seed"):
            await c.infer({})
    assert server.requests == []


async def test_filepath_outputs_are_downloaded_without_viewcomfy_headers(server):
    with ScriptedServer() as storage:
        storage.replies.append(Reply(200, {"Content-Type": "image/png"}, b"\x89PNGstored"))
        out = {
            "filename": "a.png",
            "content_type": "image/png",
            "filepath": storage.url + "obj/a.png",
        }
        server.replies.append(
            Reply(201, {"Content-Type": "application/json"}, result_json([out]).encode())
        )
        async with client(server) as c:
            result = await c.infer({"1-inputs-a": 1})
        assert result.outputs[0].content() == b"\x89PNGstored"
        sent = storage.requests[0].headers
        assert "client_secret" not in sent and "client_id" not in sent


async def test_100_mb_output_streams_intact(server):
    raw = bytes(range(256)) * (100 * 1024 * 1024 // 256)
    body = sse("prompt_result", result_json([output("video.mp4", base64.b64encode(raw).decode())]))
    server.replies.append(
        Reply(
            201,
            SSE_HEADERS,
            stream([body[i : i + (1 << 20)] for i in range(0, len(body), 1 << 20)]),
        )
    )
    async with client(server) as c:
        result = await c.infer_with_logs({"1-inputs-a": 1}, lambda _: None)
    assert result.outputs[0].content() == raw


@pytest.mark.parametrize("reply", ["sse", "json"])
async def test_big_outputs_decode_exactly_whatever_the_json_looks_like(server, reply):
    raw = os.urandom(3 << 20)
    good = output("a.bin", base64.b64encode(raw).decode())
    escaped = output("b.bin", base64.b64encode(raw[: 2 << 20]).decode())
    broken = output("c.bin", "A" * (1 << 20) + "!" + "A" * 3)
    prompt = {"7": {"inputs": {"data": "not base64 at all " * 40_000}}}  # long, and no output
    text = result_json([good, escaped, broken], prompt=prompt)
    start = text.index('"b.bin"')  # slashes escaped in one output only, as PHP would
    text = text[:start] + text[start:].replace("/", "\\/", 2_000_000)
    body = sse("prompt_result", text) if reply == "sse" else text.encode()
    chunks = [body[i : i + 65536] for i in range(0, len(body), 65536)]
    headers = SSE_HEADERS if reply == "sse" else {"Content-Type": "application/json"}
    server.replies.append(Reply(201, headers, stream(chunks)))
    async with client(server) as c:
        if reply == "sse":
            result = await c.infer_with_logs({"1-inputs-a": 1}, lambda _: None)
        else:
            result = await c.infer({"1-inputs-a": 1})
    a, b, bad = result.outputs
    assert a.content() == raw and b.content() == raw[: 2 << 20]
    assert a.data == good["data"], "the base64 text is still there for whoever asks"
    assert result.prompt == prompt
    with pytest.raises(MalformedResultError, match=r"'c\.bin' is not valid base64"):
        bad.content()


def test_sync_client_reuses_one_pool(server):
    for _ in range(2):
        server.replies.append(
            Reply(201, {"Content-Type": "application/json"}, result_json().encode())
        )
    with api.SyncViewComfyClient(server.url, "id", SECRET) as c:
        assert c.infer({"1-inputs-a": 1}).completed
        assert c.infer_with_logs({"1-inputs-a": 2}, print).completed
    assert len(server.requests) == 2
    assert server.requests[0].peer == server.requests[1].peer, "one connection, reused"


def test_every_error_derives_from_one_base():
    for exc in (
        AuthenticationError,
        RunFailedError,
        MalformedResultError,
        APITimeoutError,
        EmptyParamsError,
    ):
        assert issubclass(exc, ViewComfyError)


def test_every_exception_class_of_the_client_derives_from_one_base():
    import viewcomfy_ui.client

    modules = [viewcomfy_ui.client, api]
    for info in pkgutil.iter_modules(viewcomfy_ui.client.__path__, "viewcomfy_ui.client."):
        modules.append(importlib.import_module(info.name))
    classes = [
        value
        for module in modules
        for value in vars(module).values()
        if inspect.isclass(value)
        and issubclass(value, BaseException)
        and value.__module__.startswith("viewcomfy_ui")
    ]
    assert classes, "the client raises the package's own errors"
    assert [c for c in classes if not issubclass(c, ViewComfyError)] == []


def test_models_do_no_network_io():
    """The result model imports nothing of the client: downloading is the client's job."""
    tree = ast.parse(Path(models.__file__).read_text())
    imported = [
        ("." * node.level) + (node.module or "")
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    ] + [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    ]
    assert [m for m in imported if "client" in m or m in ("httpx", "aiohttp", "socketio")] == []


def test_a_run_is_one_request_object():
    assert list(inspect.signature(sse_protocol.run).parameters) == ["session", "api_url", "request"]
    assert list(inspect.signature(realtime.run).parameters) == ["session", "gateway", "request"]


async def test_redirects_never_carry_the_keys_to_another_host(server):
    with ScriptedServer() as other:
        other.replies.append(
            Reply(201, {"Content-Type": "application/json"}, result_json().encode())
        )
        server.replies.append(Reply(307, {"Location": other.url + "moved"}, b""))
        async with client(server) as c:
            result = await c.infer({"1-inputs-a": 1, "2-inputs-image": io.BytesIO(b"PNG")})
        assert result.completed
        assert server.requests[0].headers["client_secret"] == SECRET
        moved = other.requests[0]
        assert "client_secret" not in moved.headers and "client_id" not in moved.headers
        assert moved.files["2-inputs-image"][1] == b"PNG", "the 307 re-sends the same request body"


async def test_same_origin_redirect_keeps_the_keys(server):
    server.replies.append(Reply(308, {"Location": server.url + "v2"}, b""))
    server.replies.append(Reply(201, {"Content-Type": "application/json"}, result_json().encode()))
    async with client(server) as c:
        await c.infer({"1-inputs-a": 1})
    assert (
        server.requests[1].path == "/v2" and server.requests[1].headers["client_secret"] == SECRET
    )


# --- the bytes-level event parser, with httpx-sse as the oracle ---------------------------------

_LINES = st.lists(
    st.one_of(
        st.builds(
            lambda v: f"data: {v}", st.text(st.characters(codec="utf-8", exclude_characters="\r\n"))
        ),
        st.builds(lambda v: f"data:{v}", st.text("ab é猫 :", max_size=5)),
        st.builds(lambda v: f"event: {v}", st.sampled_from(["log_message", "error", "x"])),
        st.builds(lambda v: f"id: {v}", st.text("12\x00", max_size=3)),
        st.builds(lambda v: f"retry: {v}", st.text("1a ", max_size=3)),
        st.just(": keep-alive"),
        st.just("nofield"),
        st.just(""),
    ),
    max_size=25,
)


@pytest.mark.parametrize(
    ("long_line", "block"),
    [(events.LONG_LINE, blocks.BLOCK), (1, 3), (4, 1)],
    ids=["real-sizes", "every-line-long", "one-byte-blocks"],
)
@settings(max_examples=300, deadline=None)
@given(
    lines=_LINES,
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12),
    trailing=st.booleans(),
)
def test_event_parser_matches_httpx_sse(long_line, block, lines, newline, cuts, trailing):
    body = (newline.join(lines) + (newline if trailing else "")).encode()
    points = sorted({min(c, len(body)) for c in cuts} | {0, len(body)})
    chunks = [body[a:b] for a, b in itertools.pairwise(points) if b > a]
    oracle = [
        (e.event, e.data, e.id, e.retry)
        for e in EventSource(
            httpx.Response(200, headers=SSE_HEADERS, content=iter(chunks))
        ).iter_sse()
    ]
    # Small sizes drive every line through the long-line path (blocks, pieces).
    with (
        mock.patch.object(events, "LONG_LINE", long_line),
        mock.patch.object(blocks, "BLOCK", block),
    ):
        parser = EventParser(max_bytes=1 << 20)
        ours = [e for chunk in chunks for e in parser.feed(chunk)] + parser.close()
    assert [(e.event, e.data, e.id, e.retry) for e in ours] == oracle


# --- a prompt result decoded from its bytes, with json.loads + strict base64 as the oracle ----


def _b64_value(kind: str, raw: bytes) -> str:
    """Base64 of `raw`, valid or broken in one of the ways a server can break it."""
    text = base64.b64encode(raw).decode()
    if kind == "valid" or not text:
        return text
    if kind == "pad-inside":  # padding, then more data: invalid in strict mode
        return base64.b64encode(raw[:1]).decode() + text
    if kind == "short":
        return text[:-1]
    if kind == "bad-char":
        return text[: len(text) // 2] + "!" + text[len(text) // 2 + 1 :]
    if kind == "non-ascii":
        return text[: len(text) // 2] + "é" + text[len(text) // 2 :]
    if kind == "odd-bits":  # "QR==": valid strict base64 that no encoder writes
        return text[:-3] + "R==" if text.endswith("==") else text
    raise AssertionError(kind)


_KINDS = ["valid", "valid", "pad-inside", "short", "bad-char", "non-ascii", "odd-bits"]


@settings(max_examples=300, deadline=None)
@given(
    outputs=st.lists(
        st.tuples(st.sampled_from(_KINDS), st.binary(max_size=120)), min_size=1, max_size=4
    ),
    prompt_data=st.text(max_size=60),
    escape_slashes=st.booleans(),
    spaces=st.sampled_from([(", ", ": "), (",", ":"), (" ,\n ", " :\t ")]),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=15),
)
def test_result_from_bytes_matches_json_loads_then_base64(
    outputs, prompt_data, escape_slashes, spaces, cuts
):
    body = {
        "prompt_id": "p-1",
        "status": "success",
        "completed": True,
        "execution_time_seconds": 1.0,
        "prompt": {"5": {"inputs": {"data": prompt_data}, "data": _b64_value("valid", b"xyz")}},
        "outputs": [
            {"filename": f"o{i}.bin", "content_type": "x/y", "data": _b64_value(kind, raw)}
            for i, (kind, raw) in enumerate(outputs)
        ],
    }
    text = json.dumps(body, ensure_ascii=False, separators=spaces)
    if escape_slashes:  # as PHP's json_encode writes them: the same JSON
        text = text.replace("/", "\\/")
    raw_text = text.encode()
    points = sorted({min(c, len(raw_text)) for c in cuts} | {0, len(raw_text)})
    pieces = [raw_text[a:b] for a, b in itertools.pairwise(points) if b > a]

    oracle = json.loads(text)
    # Tiny sizes so that every "data" string takes the decode-as-it-reads path.
    with mock.patch.object(result, "BIG", 1), mock.patch.object(result, "SEGMENT", 8):
        ours = result.parse_result(pieces)

    assert ours.prompt == oracle["prompt"], "a 'data' that is no output is given back as text"
    for got, want in zip(ours.outputs, oracle["outputs"], strict=True):
        try:
            expected = binascii.a2b_base64(want["data"], strict_mode=True)
        except (binascii.Error, ValueError):
            with pytest.raises(MalformedResultError, match="not valid base64"):
                got.content()
            assert got.data == want["data"], "a broken output keeps its exact text"
        else:
            assert got.content() == expected
            assert base64.b64decode(got.data) == expected
            if want["data"] and "\\" not in text:  # after an escape, json.loads reads on
                assert isinstance(got.body, bytes), "decoded as it was read"


def test_event_parser_refuses_an_event_over_the_limit_while_it_arrives():
    parser = EventParser(max_bytes=1000)
    parser.feed(b"event: prompt_result\ndata: " + b"A" * 500)
    with pytest.raises(ResultTooLargeError, match="max_result_bytes"):
        parser.feed(b"A" * 600)  # no line end yet: refused before the line is complete


# --- hostile and huge replies: one typed error each (issue 10) --------------------------------


def json_reply(body: bytes, **headers: str) -> Reply:
    return Reply(201, {"Content-Type": "application/json", **headers}, body)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (result_json(execution_time_seconds=1e400).encode(), "not a finite number"),
        (
            result_json()
            .replace('"execution_time_seconds": 1.5', '"execution_time_seconds": ' + "9" * 5000)
            .encode(),
            "number too long",
        ),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b"{not json", "not valid JSON"),
    ],
    ids=["1e400", "5000-digit-int", "deep-json", "bad-json"],
)
async def test_hostile_json_results_are_malformed_result_errors(server, body, message):
    server.replies.append(json_reply(body))
    async with client(server) as c:
        with pytest.raises(MalformedResultError, match=message) as err:
            await c.infer({"1-inputs-a": 1})
    assert "\n" not in str(err.value)


async def test_hostile_json_in_an_event_is_a_malformed_result_error(server):
    server.replies.append(Reply(201, SSE_HEADERS, stream([sse("prompt_result", "[" * 100_000)])))
    async with client(server) as c:
        with pytest.raises(MalformedResultError, match="nested too deeply"):
            await c.infer_with_logs({"1-inputs-a": 1}, lambda _: None)


async def test_deeply_nested_error_body_still_gives_the_status(server):
    server.replies.append(Reply(500, {"Content-Type": "application/json"}, b"[" * 100_000))
    async with client(server) as c:
        with pytest.raises(HTTPStatusError, match="HTTP 500") as err:
            await c.infer({"1-inputs-a": 1})
    assert err.value.status_code == 500


async def test_bad_gzip_is_a_malformed_result_error(server):
    server.replies.append(json_reply(b"this is not gzip", **{"Content-Encoding": "gzip"}))
    async with client(server) as c:
        with pytest.raises(MalformedResultError, match="could not be decoded"):
            await c.infer({"1-inputs-a": 1})
    headers = {**SSE_HEADERS, "Content-Encoding": "gzip"}
    server.replies.append(Reply(201, headers, stream([b"this is not gzip either"])))
    async with client(server) as c:
        with pytest.raises(MalformedResultError, match="could not be decoded"):
            await c.infer_with_logs({"1-inputs-a": 1}, lambda _: None)


async def test_redirect_loop_is_a_transport_error(server):
    server.replies.extend(Reply(307, {"Location": server.url + "again"}, b"") for _ in range(25))
    async with client(server) as c:
        with pytest.raises(TransportError, match="redirect loop"):
            await c.infer({"1-inputs-a": 1})
    assert len(server.requests) == 21, "httpx's limit of 20 redirects, then stop"


async def test_error_body_cut_short_still_gives_the_status_and_what_arrived(server):
    server.replies.append(
        Reply(
            502,
            {"Content-Type": "text/plain"},
            stream([b"worker crashed: out of"]),
            drop_after=True,
        )
    )
    async with client(server) as c:
        with pytest.raises(HTTPStatusError, match="HTTP 502: worker crashed: out of") as err:
            await c.infer({"1-inputs-a": 1})
    assert err.value.status_code == 502


async def test_endless_error_body_is_read_only_64_kb(server):
    def endless():
        while True:
            yield 0.0, b"x" * 65536

    server.replies.append(Reply(500, {"Content-Type": "text/plain"}, endless))
    async with client(server, timeout=30) as c:  # reading it whole would end in a timeout
        with pytest.raises(HTTPStatusError, match="HTTP 500") as err:
            await c.infer({"1-inputs-a": 1})
    assert len(str(err.value)) < 400


async def test_result_over_the_limit_is_refused_with_a_clear_error(server):
    big = result_json([output(data=PNG * 1000)]).encode()
    server.replies.append(json_reply(big))
    async with client(server, max_result_bytes=4096) as c:
        with pytest.raises(ResultTooLargeError, match="max_result_bytes"):
            await c.infer({"1-inputs-a": 1})

    def endless_event():
        yield 0.0, b"event: prompt_result\ndata: "
        while True:
            yield 0.0, b"A" * 65536

    server.replies.append(Reply(201, SSE_HEADERS, endless_event))
    async with client(server, max_result_bytes=1 << 20, timeout=30) as c:
        with pytest.raises(ResultTooLargeError, match="max_result_bytes"):
            await c.infer_with_logs({"1-inputs-a": 1}, lambda _: None)


async def test_error_keeps_only_the_last_1000_log_lines(server):
    lines = b"".join(sse("log_message", f"line {i}") for i in range(3000))
    server.replies.append(Reply(201, SSE_HEADERS, stream([lines + sse("error", "boom")])))
    seen: list[str] = []
    async with client(server) as c:
        with pytest.raises(RunFailedError) as err:
            await c.infer_with_logs({"1-inputs-a": 1}, seen.append)
    assert len(seen) == 3000, "the callback still gets every line"
    assert err.value.logs == [f"line {i}" for i in range(2000, 3000)]
    assert "3000 log lines" not in str(err.value)


async def test_sse_output_link_into_a_private_network_is_refused(server):
    link = {"filename": "a.png", "content_type": "image/png", "filepath": "http://10.1.2.3/a.png"}
    server.replies.append(json_reply(result_json([link]).encode()))
    async with client(server) as c:
        with pytest.raises(MalformedResultError, match="private address"):
            await c.infer({"1-inputs-a": 1})


@pytest.mark.parametrize(
    ("url", "allowed", "ok"),
    [
        ("https://storage.example/a.png", set(), True),
        ("http://127.0.0.1:9/a.png", set(), False),
        ("http://localhost/a.png", set(), False),
        ("http://a.localhost/a.png", set(), False),
        ("http://[::1]/a.png", set(), False),
        ("http://[::ffff:169.254.169.254]/a.png", {"loopback"}, False),
        ("http://169.254.169.254/latest/meta-data/", {"loopback"}, False),
        ("http://192.168.1.5/a.png", {"loopback"}, False),
        ("http://0.0.0.0/a.png", set(), False),
        ("http://127.0.0.1:9/a.png", {"loopback"}, True),
        ("http://192.168.1.5/a.png", {"private"}, True),
        ("file:///etc/passwd", {"loopback", "private"}, False),
        ("javascript:alert(1)", set(), False),
    ],
)
def test_output_link_policy(url, allowed, ok):
    if ok:
        urls.check_output_url(url, "a.png", frozenset(allowed))
    else:
        with pytest.raises(MalformedResultError, match=r"refused|not a URL"):
            urls.check_output_url(url, "a.png", frozenset(allowed))


# --- Ctrl-C (issue 15) ---------------------------------------------------------------------------


@pytest.mark.parametrize("moment", ["waiting", "streaming", "saving"])
def test_ctrl_c_in_the_sync_client_drops_the_request_at_once(server, tmp_path, moment):
    """Over the direct protocol closing the connection is the cancel: Ctrl-C does it at once,
    whether the script waits for a reply, reads the log stream or saves an output."""
    if moment == "waiting":
        server.replies.append(Reply(hold="head"))
    elif moment == "streaming":
        server.replies.append(Reply(201, SSE_HEADERS, stream([sse("log_message", "got prompt")])))
        server.replies[-1].hold = "body"
    else:
        link = {"filename": "a.png", "content_type": "image/png", "filepath": server.url + "a"}
        server.replies += [Reply(201, body=result_json([link]).encode()), Reply(hold="head")]
    with interrupt.start(server.url, ("id-1", SECRET), server.url, "sse", tmp_path) as child:
        assert server.holding.wait(60), f"the script never got to {moment}"
        sent = time.monotonic()
        ended, stderr = interrupt.interrupt(child)
    assert "KeyboardInterrupt" in stderr and SECRET not in stderr
    assert ended - sent < interrupt.BOUND
    assert server.closed.wait(interrupt.BOUND), "the server saw the connection close"
    assert server.closed_at - sent < interrupt.BOUND
    assert list(tmp_path.iterdir()) == [], "no partial file is left behind"
