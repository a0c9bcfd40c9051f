"""The runner against real loopback servers: what reaches the page is scrubbed of the keys, the
log is bounded, and a cancelled run stops cleanly."""

from __future__ import annotations

import asyncio
import base64
import gc
import json
import logging
import threading

import pytest
from fake_gateway import CLIENT_ID as GATEWAY_ID
from fake_gateway import SECRET as GATEWAY_SECRET
from fake_gateway import FakeGateway, Run
from scripted_server import Reply, ScriptedServer, result_json, sse, stream

from viewcomfy_ui.ui import status as st
from viewcomfy_ui.ui.outcome import Cancelled, Done, Failed
from viewcomfy_ui.ui.runner import MAX_LOG_LINES, Endpoint, Runner, RunUpdate
from viewcomfy_ui.ui.values import Params

pytestmark = pytest.mark.leak_prone
SECRET = "top-secret-value-42"
CLIENT_ID = "client-id-7777"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 32).decode()


@pytest.fixture
def scripted():
    with ScriptedServer() as server:
        yield server


async def collect(runner: Runner, tmp_path, **kwargs) -> list[RunUpdate]:
    params = Params(values={"6-inputs-text": "hi"})
    return [u async for u in runner.run(params, stream=True, run_dir=tmp_path, **kwargs)]


def shown(updates: list[RunUpdate]) -> str:
    """Everything the page would show: status, logs, output names."""
    parts = []
    for u in updates:
        parts += [st.of(u, {}).html(), *u.logs]
        if isinstance(u.outcome, Done):
            parts += [str(o.path.name) for o in u.outcome.outputs]
    return "\n".join(parts)


def runner_for(server: ScriptedServer) -> Runner:
    return Runner(Endpoint(server.url, client_id=CLIENT_ID, client_secret=SECRET))


async def test_keys_never_reach_the_page_from_logs_prompt_id_or_file_names(scripted, tmp_path):
    result = result_json(
        [{"filename": f"out-{SECRET}.png", "content_type": "image/png", "data": PNG, "size": 40}],
        prompt_id=f"p-{SECRET}",
    )
    events = [
        sse("log_message", f"loading with key {SECRET} and id {CLIENT_ID}"),
        sse("log_message", "got prompt"),
        sse("prompt_result", result),
    ]
    scripted.replies.append(
        Reply(201, {"Content-Type": "text/event-stream"}, stream(events, delay=0.05))
    )
    updates = await collect(runner_for(scripted), tmp_path)
    outcome = updates[-1].outcome
    assert isinstance(outcome, Done) and len(outcome.outputs) == 1
    page = shown(updates)
    assert SECRET not in page and CLIENT_ID not in page
    assert "loading with key ***" in page and "prompt p-***" in page
    assert [p.name for p in tmp_path.iterdir()] == ["out-___.png"]  # "*" is not safe in a file name


async def test_an_error_cut_short_by_the_client_leaks_no_prefix_of_the_secret(scripted, tmp_path):
    error = "x" * 290 + SECRET + " more text after it"  # the client cuts it mid-secret
    scripted.replies.append(
        Reply(201, {"Content-Type": "text/event-stream"}, stream([sse("error", error)]))
    )
    updates = await collect(runner_for(scripted), tmp_path)
    assert isinstance(updates[-1].outcome, Failed)
    text = st.of(updates[-1], {}).text
    assert SECRET[:5] not in text and "***" in text


@pytest.mark.parametrize(
    ("outcome", "shown"),
    [
        (Failed("OOM in KSampler"), "Failed: OOM in KSampler"),
        (Failed("bad radius", "3", "ImageBlur"), "Failed: node 3 (ImageBlur): bad radius"),
        (Failed("", "3"), "Failed: node 3: the server gave no reason; see the logs"),
        (Failed("the endpoint refused the API key (401)"), "Failed: the endpoint refused the API key (401)"),
        (Cancelled("client"), "Cancelled: the run was stopped. Ready to run again."),
        (Cancelled("server"), "Cancelled on the server. Ready to run again."),
    ],
)  # fmt: skip
def test_the_status_says_how_a_run_ended_once(outcome, shown):
    assert st.ended(outcome, {}).text == shown


def test_a_done_status_names_the_time_outputs_prompt_and_seeds():
    done = Done((), prompt_id="p-1", seconds=2.25)
    assert (
        st.ended(done, {"3-inputs-seed": 7}).text
        == "Done in 2.2 s · 0 outputs · prompt p-1 · seed 7"
    )


async def test_a_server_error_event_is_shown_once_with_its_reason(scripted, tmp_path):
    scripted.replies.append(
        Reply(201, {"Content-Type": "text/event-stream"}, stream([sse("error", "OOM in KSampler")]))
    )
    updates = await collect(runner_for(scripted), tmp_path)
    assert st.of(updates[-1], {}).text == "Failed: OOM in KSampler"


def test_scrub_before_cutting():
    assert st.scrub("key=" + SECRET + " tail", [SECRET], limit=10) == "key=*** t…"
    assert st.scrub("cut: " + SECRET[:8] + "…", [SECRET]) == "cut: ***…"
    assert st.scrub("abc", ["ab"]) == "abc"  # too short to be a key: never blanks text


async def test_log_is_bounded_and_keeps_the_latest_lines(scripted, tmp_path):
    lines = "\n".join(f"line {i}" for i in range(MAX_LOG_LINES + 500))
    events = [sse("log_message", lines), sse("prompt_result", result_json([]))]
    scripted.replies.append(Reply(201, {"Content-Type": "text/event-stream"}, stream(events)))
    updates = await collect(runner_for(scripted), tmp_path)
    final = updates[-1].logs
    assert len(final) == MAX_LOG_LINES and final[-1] == f"line {MAX_LOG_LINES + 499}"


async def test_cancelling_a_run_closes_the_request_and_leaves_no_pending_task(
    scripted, tmp_path, caplog
):
    def endless():
        yield 0.0, sse("log_message", "got prompt")
        for _ in range(600):
            yield 0.05, sse("log_message", "still working")

    scripted.replies.append(Reply(201, {"Content-Type": "text/event-stream"}, endless))
    runner = runner_for(scripted)
    seen = asyncio.Event()

    async def consume() -> None:
        async for _ in runner.run(Params(values={"a": 1}), stream=True, run_dir=tmp_path / "out"):
            seen.set()

    caplog.set_level(logging.ERROR, logger="asyncio")
    consumer = asyncio.ensure_future(consume())
    await seen.wait()
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    # the client's task finished (not merely abandoned) before the generator returned
    pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert pending == []
    await runner.client().aclose()
    gc.collect()
    assert "Task was destroyed" not in caplog.text
    assert json.loads(scripted.requests[0].fields["params"]) == {"a": 1}


async def test_realtime_run_shows_the_cold_start_wait_then_progress_then_done(tmp_path):
    """Over the realtime gateway, the page sees what it sees over SSE: waiting (no line yet),
    running with tqdm progress, done with the saved outputs. Each step waits for the page."""
    booted, halfway = threading.Event(), threading.Event()

    async def script(run: Run) -> None:
        await asyncio.to_thread(booted.wait, 60)  # a worker still booting
        await run.log("got prompt")
        await run.log(" 50%|#####     | 5/10 [00:01<00:01,  5.00it/s]")
        await asyncio.to_thread(halfway.wait, 60)
        await run.finish([gateway.store("a.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 8)])

    with FakeGateway() as gateway:
        gateway.on_submit = script
        endpoint = Endpoint(
            "https://deploy.example/api",
            client_id=GATEWAY_ID,
            client_secret=GATEWAY_SECRET,
            protocol="realtime",
            gateway_url=gateway.url,
        )
        runner = Runner(endpoint)
        states = []
        async for update in runner.run(Params(values={"a": 1}), stream=True, run_dir=tmp_path):
            states.append(st.of(update, {}).state)
            if update.waiting:
                booted.set()
            elif update.progress is not None and update.progress.step is not None:
                assert update.progress.fraction == 0.5
                halfway.set()
        await runner.client().aclose()
    assert states[0] == "waiting" and states[-1] == "done" and "running" in states
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]


def preview_event(n: int) -> bytes:
    image = base64.b64encode(f"frame {n}".encode()).decode()
    data = {"prompt_id": "p-1", "node_id": str(n), "content_type": "image/jpeg", "image": image}
    return sse("preview", json.dumps(data))


async def test_previews_reach_the_page_at_most_8_times_a_second_newest_only(scripted, tmp_path):
    """200 frames in about 4 s: each page update carries at most the newest frame, in order;
    the frames shown span the run (not a backlog of the first ones)."""
    events = [preview_event(n) for n in range(200)] + [sse("prompt_result", result_json())]
    reply = Reply(201, {"Content-Type": "text/event-stream"}, stream(events, delay=0.02))
    scripted.replies.append(reply)
    loop = asyncio.get_running_loop()
    started = loop.time()
    updates = await collect(runner_for(scripted), tmp_path)
    seconds = loop.time() - started
    shown = [int(u.preview.node_id) for u in updates if u.preview is not None]
    assert 3 <= len(shown) <= seconds * 8 + 2, (len(shown), seconds)
    assert shown == sorted(set(shown)) and shown[-1] - shown[0] >= 100
    assert updates[-1].preview is None and isinstance(updates[-1].outcome, Done)
