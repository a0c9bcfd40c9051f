"""The realtime client against a fake ViewComfy gateway (socket.io + HTTP) on loopback."""

from __future__ import annotations

import asyncio
import io
import json
import os
import threading
import time
import uuid

import interrupt
import pytest
from fake_gateway import CLIENT_ID, SECRET, FakeGateway, Run

from viewcomfy_ui import api
from viewcomfy_ui.errors import (
    AuthenticationError,
    IncompleteStreamError,
    LinkExpiredError,
    MalformedResultError,
    ParamsError,
    RunCancelledError,
    RunFailedError,
    TransportError,
    ViewComfyError,
)
from viewcomfy_ui.models import Failure
from viewcomfy_ui.outputs import save_outputs

# A file or socket the client leaks fails these tests, even when only the GC finds it.
pytestmark = [
    pytest.mark.leak_prone,
    pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning"),
]

API_URL = "https://app.viewcomfy.com/api/deployment/abc"
PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(3000)


@pytest.fixture
def gateway():
    with FakeGateway() as g:
        yield g


def client(gateway, secret=SECRET, **kw):
    kw.setdefault("timeout", 30)
    return api.ViewComfyClient(
        API_URL, CLIENT_ID, secret, protocol="realtime", gateway_url=gateway.url, **kw
    )


def no_keys(headers: dict[str, str]) -> bool:
    return not ({"client_id", "client_secret"} & set(headers)) and SECRET not in str(headers)


async def test_logs_reach_the_callback_in_order_and_the_result_returns(gateway):
    async def script(run: Run) -> None:
        await run.log("got prompt")
        await run.executed("3")
        await run.log(" 50%|#####     | 1/2 [00:01<00:01,  1.00it/s]")
        await run.log("Prompt executed in 1.50 seconds")
        await run.finish([gateway.store("ComfyUI_00001_.png", PNG)])

    gateway.on_submit = script
    seen: list[str] = []
    async with client(gateway) as c:
        result = await c.infer_with_logs(
            {"6-inputs-text": "a cat", "3-inputs-seed": 2**63 + 5},
            lambda line: seen.append(f"log {line}"),
            on_phase=lambda phase: seen.append(phase),
        )
    assert seen == [
        "connecting",
        "waiting",
        "running",
        "log got prompt",
        "log  50%|#####     | 1/2 [00:01<00:01,  1.00it/s]",
        "log Prompt executed in 1.50 seconds",
        "receiving",
    ]
    assert result.completed and result.outputs[0].filename == "ComfyUI_00001_.png"
    assert gateway.connects == [{"client_id": CLIENT_ID, "client_secret": SECRET}]
    [sent] = gateway.submits
    assert sent["headers"]["client_id"] == CLIENT_ID
    assert sent["headers"]["client_secret"] == SECRET
    assert sent["content_type"].startswith("application/x-www-form-urlencoded")
    fields = sent["fields"]
    assert uuid.UUID(fields["prompt_id"]) and result.prompt_id == fields["prompt_id"]
    assert fields["view_comfy_api_url"] == API_URL
    assert json.loads(fields["params"]) == {"6-inputs-text": "a cat", "3-inputs-seed": 2**63 + 5}
    assert fields["workflow_api"] == "" and fields["sid"]


async def test_infer_without_callback_and_module_level_call(gateway):
    async def script(run: Run) -> None:
        await run.log("got prompt")
        await run.finish([])

    gateway.on_submit = script
    result = await api.infer(
        params={"1-inputs-a": 1},
        api_url=API_URL,
        client_id=CLIENT_ID,
        client_secret=SECRET,
        protocol="realtime",
        gateway_url=gateway.url,
    )
    assert result.completed and result.prompt_id == gateway.submits[0]["fields"]["prompt_id"]
    lines: list[str] = []
    await api.infer_with_logs(
        params={"1-inputs-a": 2},
        logging_callback=lines.append,
        api_url=API_URL,
        client_id=CLIENT_ID,
        client_secret=SECRET,
        protocol="realtime",
        gateway_url=gateway.url,
    )
    assert lines == ["got prompt"]


async def test_files_are_sent_as_multipart_parts_and_left_as_found(gateway, tmp_path):
    image = tmp_path / "input photo.png"
    image.write_bytes(b"PNGDATA")
    audio = io.BytesIO(b"RIFF")
    override = {"1": {"class_type": "X", "inputs": {}}}
    async with client(gateway) as c:
        await c.infer(
            {"52-inputs-image": image, "10-inputs-audio": audio, "6-inputs-text": "x"},
            override_workflow_api=override,
        )
    [sent] = gateway.submits
    assert sent["content_type"].startswith("multipart/form-data")
    assert sent["files"]["52-inputs-image"] == ("input photo.png", b"PNGDATA")
    assert sent["files"]["10-inputs-audio"][1] == b"RIFF"
    assert json.loads(sent["fields"]["params"]) == {"6-inputs-text": "x"}
    assert json.loads(sent["fields"]["workflow_api"]) == override
    assert sent["fields"]["sid"] and sent["fields"]["view_comfy_api_url"] == API_URL
    assert not audio.closed and vars(audio) == {}, "the caller's file object is not modified"


async def test_events_for_other_prompts_on_the_same_socket_are_ignored(gateway):
    async def script(run: Run) -> None:
        other = Run(gateway, "someone-else", run.sid, {})
        await other.log("not mine")
        await other.error("not my error")
        await other.finish([])
        await run.log("mine")
        await run.finish([])

    gateway.on_submit = script
    lines: list[str] = []
    async with client(gateway) as c:
        result = await c.infer_with_logs({"1-inputs-a": 1}, lines.append)
    assert lines == ["mine"]
    assert result.prompt_id == gateway.submits[0]["fields"]["prompt_id"]


async def test_save_outputs_streams_byte_identical_files_without_the_keys(gateway, tmp_path):
    video = os.urandom(3 * 1024 * 1024 + 7)

    async def script(run: Run) -> None:
        await run.finish(
            [
                gateway.store("../../clip.mp4", video, content_type="video/mp4"),
                gateway.store("ComfyUI_00001_.png", PNG),
                gateway.store("ComfyUI_00001_.png", PNG[::-1]),
            ]
        )

    gateway.on_submit = script
    async with client(gateway) as c:
        result = await c.infer({"1-inputs-a": 1})
        paths = await c.save_outputs(result, tmp_path)
    assert [p.name for p in paths] == ["clip.mp4", "ComfyUI_00001_.png", "ComfyUI_00001__1.png"]
    assert all(p.parent == tmp_path for p in paths)
    assert [p.read_bytes() for p in paths] == [video, PNG, PNG[::-1]]
    assert len(gateway.storage_requests) == 3
    assert all(no_keys(h) for h in gateway.storage_requests)


async def test_expired_link_is_a_typed_error_saying_so(gateway, tmp_path):
    async def script(run: Run) -> None:
        await run.finish([gateway.store("a.png", PNG, expired=True)])

    gateway.on_submit = script
    async with client(gateway) as c:
        result = await c.infer({"1-inputs-a": 1})
        with pytest.raises(LinkExpiredError, match="expired") as err:
            await c.save_outputs(result, tmp_path)
    assert err.value.status_code == 403
    assert list(tmp_path.iterdir()) == [], "no partial file is left behind"


async def test_error_event_raises_run_failed_with_the_logs_so_far_and_no_secret(gateway):
    async def script(run: Run) -> None:
        await run.log("got prompt")
        await run.error({"message": f"KSampler: CUDA out of memory (key {SECRET})"})

    gateway.on_submit = script
    async with client(gateway) as c:
        with pytest.raises(RunFailedError) as err:
            await c.infer_with_logs({"1-inputs-a": 1}, lambda _: None)
    assert type(err.value) is RunFailedError
    assert "CUDA out of memory" in str(err.value) and SECRET not in str(err.value)
    assert err.value.logs == ["got prompt"]


async def test_cancelled_event_raises_run_cancelled_with_logs(gateway):
    async def script(run: Run) -> None:
        await run.log("got prompt")
        await run.emit("infer_canceled_message", {"prompt_id": run.prompt_id, "data": None})

    gateway.on_submit = script
    async with client(gateway) as c:
        with pytest.raises(RunCancelledError, match="cancelled") as err:
            await c.infer_with_logs({"1-inputs-a": 1}, lambda _: None)
    assert err.value.logs == ["got prompt"]
    assert err.value.by == "server", "the gateway stopped it, not this client"


async def test_a_run_this_client_cancelled_says_so(gateway):
    async def script(run: Run) -> None:
        await run.log("got prompt")
        await run.wait_cancelled()

    gateway.on_submit = script
    running = asyncio.Event()
    async with client(gateway) as c:
        task = asyncio.create_task(c.infer_with_logs({"1-inputs-a": 1}, lambda _: running.set()))
        await running.wait()
        await c.cancel(gateway.submits[0]["fields"]["prompt_id"])
        with pytest.raises(RunCancelledError) as err:
            await task
    assert err.value.by == "client"


@pytest.mark.parametrize("form", ["object", "json text", "plain text"])
async def test_error_message_gives_the_failure_as_data(gateway, form):
    """Our server sends the failure as an object (ComfyUI's execution_error shape), others may
    send its JSON text or plain text (a reason without a node)."""
    failure = Failure("Invalid image file: x.png", "3", "ImageBlur")
    data = {
        "object": failure.to_json(),
        "json text": json.dumps(failure.to_json()),
        "plain text": failure.reason,
    }[form]

    async def script(run: Run) -> None:
        await run.log("got prompt")
        await run.error(data)

    gateway.on_submit = script
    async with client(gateway) as c:
        with pytest.raises(RunFailedError) as err:
            await c.infer_with_logs({"1-inputs-a": 1}, lambda _: None)
    node = ("", "") if form == "plain text" else ("3", "ImageBlur")
    assert (err.value.reason, err.value.node_id, err.value.node_type) == (failure.reason, *node)
    assert err.value.logs == ["got prompt"]


async def test_a_linked_output_from_the_client_gives_its_content(gateway, tmp_path):
    gateway.on_submit = lambda run: run.finish([gateway.store("a.png", PNG)])
    async with client(gateway) as c:
        result = await c.infer({"1-inputs-a": 1})
    assert await asyncio.to_thread(result.outputs[0].content) == PNG
    assert all(no_keys(h) for h in gateway.storage_requests)
    elsewhere = api.FileOutput.from_json(gateway.store("b.png", PNG))
    with pytest.raises(ViewComfyError, match="save_outputs"):
        elsewhere.content()


async def test_cancelling_the_task_sends_the_cancel_request_before_returning(gateway):
    async def script(run: Run) -> None:
        await run.log("got prompt")
        await run.wait_cancelled()  # a long run: only a cancel request ends it

    gateway.on_submit = script
    running = asyncio.Event()
    async with client(gateway) as c:
        task = asyncio.create_task(c.infer_with_logs({"1-inputs-a": 1}, lambda _: running.set()))
        await running.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    prompt_id = gateway.submits[0]["fields"]["prompt_id"]
    assert [c["json"] for c in gateway.cancels] == [
        {"prompt_id": prompt_id, "view_comfy_api_url": API_URL}
    ]
    assert gateway.cancels[0]["headers"]["client_secret"] == SECRET


async def test_refused_socket_is_an_authentication_error_and_nothing_is_submitted(gateway):
    async with client(gateway, secret="wrong-secret-value") as c:
        with pytest.raises(AuthenticationError) as err:
            await c.infer({"1-inputs-a": 1})
    assert "invalid API key" in str(err.value) and "VIEWCOMFY_CLIENT_SECRET" in str(err.value)
    assert "wrong-secret-value" not in str(err.value)
    assert len(gateway.connects) == 1, "a refused key is not retried"
    assert gateway.submits == []


async def test_401_on_submit_is_an_authentication_error(gateway):
    async with client(gateway, secret="wrong-secret-value") as c:
        with pytest.raises(AuthenticationError) as err:
            await c.submit({"1-inputs-a": 1})
    assert err.value.status_code == 401 and "wrong-secret-value" not in str(err.value)
    assert len(gateway.submits) == 1, "a refused POST is not re-sent"


async def test_dropped_socket_before_the_result_is_an_incomplete_stream(gateway):
    async def script(run: Run) -> None:
        await run.log("got prompt")
        await run.drop()

    gateway.on_submit = script
    async with client(gateway) as c:
        with pytest.raises(IncompleteStreamError, match="dropped") as err:
            await c.infer_with_logs({"1-inputs-a": 1}, lambda _: None)
    assert err.value.logs == ["got prompt"]
    assert gateway.cancels == [], "a dropped listener does not cancel the run"


async def test_slow_cold_start_reports_waiting_until_the_first_line(gateway):
    waiting = threading.Event()

    async def script(run: Run) -> None:
        # the worker boots: nothing is sent until the client has shown "waiting"
        assert await asyncio.to_thread(waiting.wait, 20)
        await run.log("got prompt")
        await run.finish([])

    gateway.on_submit = script
    seen: list[str] = []

    def on_phase(phase: str) -> None:
        seen.append(phase)
        if phase == "waiting":
            waiting.set()

    async with client(gateway) as c:
        result = await c.infer_with_logs({"1-inputs-a": 1}, seen.append, on_phase=on_phase)
    assert result.completed
    assert seen == ["connecting", "waiting", "running", "got prompt", "receiving"]


async def test_unreachable_gateway_is_a_transport_error():
    async with api.ViewComfyClient(
        API_URL,
        CLIENT_ID,
        SECRET,
        protocol="realtime",
        gateway_url="http://127.0.0.1:9",
        max_retries=1,
    ) as c:
        with pytest.raises(TransportError, match=r"cannot connect to the gateway") as err:
            await c.infer({"1-inputs-a": 1})
    assert SECRET not in str(err.value)


async def test_submit_then_results_collects_a_batch(gateway, tmp_path):
    gateway.on_submit = lambda run: run.finish([gateway.store("out.png", PNG)])
    async with client(gateway) as c:
        first = await c.submit({"1-inputs-a": 1})
        second = await c.submit({"1-inputs-a": 2})
        gateway.pending.add(second)
        assert gateway.connects == [], "fire-and-forget needs no socket"
        assert [s["fields"].get("sid") for s in gateway.submits] == [None, None]
        # the runs finish on the gateway's side: wait for that state, not for time
        while first not in gateway.results:
            await asyncio.sleep(0.01)
        done, going = await c.results([first, second])
        paths = await c.save_outputs(done, tmp_path)
    assert gateway.result_queries == [[first, second]]
    assert (done.prompt_id, done.status, done.completed) == (first, "success", True)
    assert done.outputs[0].content_type == "image/png" and done.outputs[0].size == len(PNG)
    assert (going.prompt_id, going.completed) == (second, False)
    assert [p.read_bytes() for p in paths] == [PNG]


async def test_cancel_posts_the_prompt_id(gateway):
    async with client(gateway) as c:
        await c.cancel("p-42")
    assert gateway.cancels[0]["json"] == {"prompt_id": "p-42", "view_comfy_api_url": API_URL}


async def test_batch_calls_need_the_realtime_protocol():
    async with api.ViewComfyClient(API_URL, CLIENT_ID, SECRET) as c:
        with pytest.raises(ParamsError, match="protocol='realtime'"):
            await c.submit({"1-inputs-a": 1})


@pytest.mark.parametrize(
    "link",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/internal.png",
        "file:///etc/passwd",
        "ftp://127.0.0.1/a.png",
    ],
)
async def test_output_links_outside_the_gateways_network_are_refused(gateway, link):
    async def script(run: Run) -> None:
        output = {"filename": "a.png", "content_type": "image/png", "size": 1, "filepath": link}
        await run.finish([output])

    gateway.on_submit = script
    async with client(gateway) as c:
        with pytest.raises(MalformedResultError, match="refused"):
            await c.infer({"1-inputs-a": 1})


def test_sync_client_runs_realtime_and_saves(gateway, tmp_path):
    async def script(run: Run) -> None:
        await run.log("got prompt")
        await run.finish([gateway.store("a.png", PNG)])

    gateway.on_submit = script
    lines: list[str] = []
    with api.SyncViewComfyClient(
        API_URL, CLIENT_ID, SECRET, protocol="realtime", gateway_url=gateway.url
    ) as c:
        result = c.infer_with_logs({"1-inputs-a": 1}, lines.append)
        [path] = c.save_outputs(result, tmp_path)
        prompt_id = c.submit({"1-inputs-a": 2})
        c.cancel(prompt_id)
    assert lines == ["got prompt"] and path.read_bytes() == PNG
    assert gateway.cancels[0]["json"]["prompt_id"] == prompt_id


def test_save_outputs_of_a_result_from_elsewhere_streams_too(gateway, tmp_path):
    output = api.FileOutput.from_json(gateway.store("b.bin", PNG))
    result = api.PromptResult("p", "success", True, 1.0, {}, [output])
    [path] = save_outputs(result, tmp_path)
    assert path.read_bytes() == PNG and "data" not in repr(output)


async def test_saving_runs_off_the_event_loop(gateway, tmp_path):
    release = threading.Event()
    output = api.FileOutput.from_json(gateway.store("a.png", PNG, hold=release))
    result = api.PromptResult("p", "success", True, 1.0, {}, [output])
    async with client(gateway) as c:
        saving = asyncio.create_task(c.save_outputs(result, tmp_path))
        # the download waits for us; we only get to run if saving left the loop free
        while not gateway.storage_requests:
            await asyncio.sleep(0.01)
        release.set()
        [path] = await saving
    assert path.read_bytes() == PNG


async def test_busy_gateway_submit_is_retried_after_retry_after(gateway):
    gateway.busy = 1
    async with client(gateway) as c:
        result = await c.infer({"1-inputs-a": 1})
    assert result.completed
    assert len(gateway.submits) == 2
    assert gateway.submits[0]["fields"]["prompt_id"] == gateway.submits[1]["fields"]["prompt_id"]


async def test_failed_run_keeps_only_the_last_1000_log_lines(gateway):
    async def script(run: Run) -> None:
        for i in range(1500):
            await run.log(f"line {i}")
        await run.error("boom")

    gateway.on_submit = script
    seen: list[str] = []
    async with client(gateway) as c:
        with pytest.raises(RunFailedError, match="boom") as err:
            await c.infer_with_logs({"1-inputs-a": 1}, seen.append)
    assert len(seen) == 1500
    assert err.value.logs == [f"line {i}" for i in range(500, 1500)]


@pytest.mark.parametrize(
    ("moment", "elsewhere"),
    [
        ("connecting", False),
        ("submitted", False),
        ("streaming", False),
        ("streaming", True),
        ("saving", False),
    ],
)
def test_ctrl_c_in_the_sync_client_cancels_the_run_on_the_gateway(
    gateway, tmp_path, moment, elsewhere
):
    """Ctrl-C at each moment of a run ends the script at once, a submitted run cancelled first
    (once flaky: a Ctrl-C that landed on a worker thread waited for the gateway's next ping)."""
    release = threading.Event()  # holds the gateway at the moment until the test ends
    if moment == "connecting":
        gateway.hold_connect = release

    async def script(run: Run) -> None:
        if moment == "streaming":
            await run.log("got prompt")
        elif moment == "saving":
            await run.finish([gateway.store("a.png", PNG, hold=release)])
        await run.wait_cancelled()

    gateway.on_submit = script
    try:
        keys = (CLIENT_ID, SECRET)
        with interrupt.start(API_URL, keys, gateway.url, "realtime", tmp_path, elsewhere) as child:
            if moment == "streaming":
                assert child.stdout.readline() == "got prompt\n"
                if elsewhere:  # Python 3.11 handles it only once the main thread wakes up
                    interrupt.wait_until_idle(child.pid)
            else:
                assert gateway.moments[moment].wait(60), f"the script never got to {moment}"
            sent = time.monotonic()
            ended, stderr = interrupt.interrupt(child)
    finally:
        release.set()
    assert "KeyboardInterrupt" in stderr and SECRET not in stderr
    if moment in ("connecting", "saving"):  # no run is going: nothing to cancel
        assert gateway.cancels == []
        assert ended - sent < interrupt.BOUND
        assert list(tmp_path.iterdir()) == [], "no partial file is left behind"
        return
    prompt_id = gateway.submits[0]["fields"]["prompt_id"]
    assert [c["json"]["prompt_id"] for c in gateway.cancels] == [prompt_id]
    assert gateway.cancel_arrived - sent < interrupt.BOUND, "the cancel request left at once"
    assert ended - gateway.cancel_arrived < interrupt.BOUND


async def test_cancelling_while_connecting_submits_nothing_and_leaves_nothing_open(gateway):
    release = threading.Event()
    gateway.hold_connect = release
    try:
        async with client(gateway) as c:
            task = asyncio.create_task(c.infer({"1-inputs-a": 1}))
            assert await asyncio.to_thread(gateway.moments["connecting"].wait, 60)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    finally:
        release.set()
    assert gateway.submits == [] and gateway.cancels == []
    assert pending == [], "the half-open socket's tasks ended with the run"


def test_ctrl_c_does_not_wait_long_for_the_answer_to_the_cancel(gateway, tmp_path):
    """The gateway has the cancel request: a slow answer to it does not hold the script."""
    release = threading.Event()
    gateway.hold_cancel_reply = release

    async def script(run: Run) -> None:
        await run.log("got prompt")
        await run.wait_cancelled()

    gateway.on_submit = script
    try:
        keys = (CLIENT_ID, SECRET)
        with interrupt.start(API_URL, keys, gateway.url, "realtime", tmp_path) as child:
            assert child.stdout.readline() == "got prompt\n"
            ended, stderr = interrupt.interrupt(child)
    finally:
        release.set()
    assert "KeyboardInterrupt" in stderr
    assert [c["json"]["prompt_id"] for c in gateway.cancels] == [
        gateway.submits[0]["fields"]["prompt_id"]
    ]
    assert ended - gateway.cancel_arrived < interrupt.BOUND
