"""The client against a real loopback server speaking the ViewComfy protocol."""

from __future__ import annotations

import base64
import io
import json
import time

import pytest
from scripted_server import Reply, ScriptedServer, result_json, sse, stream

from viewcomfy_ui import api
from viewcomfy_ui.errors import (
    APITimeoutError,
    AuthenticationError,
    EmptyParamsError,
    HTTPStatusError,
    IncompleteStreamError,
    MalformedResultError,
    RunFailedError,
    TransportError,
    ViewComfyError,
)

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
    params = {
        "52-inputs-image": image,
        "10-inputs-audio": io.BytesIO(b"RIFF"),
        "6-inputs-text": "x",
    }
    async with client(server) as c:
        await c.infer(params, override_workflow_api={"1": {"class_type": "X", "inputs": {}}})
    sent = server.requests[0]
    assert sent.files["52-inputs-image"] == ("input photo.png", b"PNGDATA")
    assert sent.files["10-inputs-audio"][1] == b"RIFF"
    assert json.loads(sent.fields["params"]) == {"6-inputs-text": "x"}
    assert json.loads(sent.fields["workflow_api"])["1"]["class_type"] == "X"


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
    seen_at: list[float] = []

    def chunks():
        yield 0.0, sse("log_message", "got prompt")
        yield 0.6, sse("prompt_result", result_json())

    server.replies.append(Reply(201, SSE_HEADERS, chunks))
    start = time.monotonic()
    async with client(server) as c:
        await c.infer_with_logs({"1-inputs-a": 1}, lambda line: seen_at.append(time.monotonic()))
    done = time.monotonic()
    assert seen_at and done - seen_at[0] > 0.4, "the log line must arrive while the run goes on"
    assert seen_at[0] - start < done - start


async def test_error_event_raises_run_failed_with_logs(server):
    body = sse("log_message", "got prompt") + sse("error", "KSampler: CUDA out of memory")
    server.replies.append(Reply(201, SSE_HEADERS, stream([body])))
    async with client(server) as c:
        with pytest.raises(RunFailedError) as err:
            await c.infer_with_logs({"1-inputs-a": 1}, lambda _: None)
    assert "CUDA out of memory" in str(err.value)
    assert err.value.logs == ["got prompt"]


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


async def test_429_retries_are_bounded(server):
    server.replies.extend(Reply(429, {"Retry-After": "0"}, b"{}") for _ in range(5))
    async with client(server, max_retries=2) as c:
        with pytest.raises(HTTPStatusError, match="429"):
            await c.infer({"1-inputs-a": 1})
    assert len(server.requests) == 3


async def test_connection_refused_is_retried_then_clear_error():
    c = api.ViewComfyClient("http://127.0.0.1:9/", "id", SECRET, max_retries=1)
    async with c:
        with pytest.raises(TransportError, match=r"cannot connect to http://127\.0\.0\.1:9"):
            await c.infer({"1-inputs-a": 1})


async def test_slow_first_byte_is_waited_for_and_total_budget_is_enforced(server):
    def slow():
        yield 1.0, sse("prompt_result", result_json())

    server.replies.append(Reply(201, SSE_HEADERS, slow))
    phases = []
    async with client(server, timeout=5) as c:
        result = await c.infer_with_logs({"1-inputs-a": 1}, lambda _: None, on_phase=phases.append)
    assert result.completed and phases[:2] == ["connecting", "waiting"] and "running" not in phases

    server.replies.append(Reply(201, SSE_HEADERS, slow))
    async with client(server, timeout=0.3) as c:
        with pytest.raises(APITimeoutError):
            await c.infer_with_logs({"1-inputs-a": 1}, lambda _: None)


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


def test_sync_client_reuses_one_pool(server):
    for _ in range(2):
        server.replies.append(
            Reply(201, {"Content-Type": "application/json"}, result_json().encode())
        )
    with api.SyncViewComfyClient(server.url, "id", SECRET) as c:
        assert c.infer({"1-inputs-a": 1}).completed
        assert c.infer_with_logs({"1-inputs-a": 2}, print).completed
    assert len(server.requests) == 2


def test_every_error_derives_from_one_base():
    for exc in (
        AuthenticationError,
        RunFailedError,
        MalformedResultError,
        APITimeoutError,
        EmptyParamsError,
    ):
        assert issubclass(exc, ViewComfyError)


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
