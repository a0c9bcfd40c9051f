"""`RunQueue` with a stub client (no HTTP, no Gradio): how each run ends (done, failed with its
node, cancelled by the visitor or by the server), what the history records, mixed batches, and
cancelling a run still waiting for a slot."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from viewcomfy_ui.errors import RunCancelledError, RunFailedError
from viewcomfy_ui.models import FileOutput, PromptResult
from viewcomfy_ui.ui import status as st
from viewcomfy_ui.ui.batch import Job, RunQueue
from viewcomfy_ui.ui.outcome import Cancelled, Done, Failed
from viewcomfy_ui.ui.runner import Endpoint, Runner
from viewcomfy_ui.ui.values import Params

SECRET = "stub-secret-9876"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 8).decode()
WAIT = 10  # an upper bound on waiting, not a speed requirement

Script = Callable[[Callable[[str], None]], Awaitable[PromptResult]]


def result(prompt_id: str, status: str = "success", error_data=None) -> PromptResult:
    outputs = [FileOutput("a.png", "image/png", PNG)] if status == "success" else []
    return PromptResult(prompt_id, status, True, 0.1, {}, outputs, error_data)


async def done(log: Callable[[str], None]) -> PromptResult:
    log("got prompt")
    return result("p-done")


async def failed_at_node(log: Callable[[str], None]) -> PromptResult:
    log("got prompt")
    raise RunFailedError(f"bad radius {SECRET}", node_id="3", node_type="ImageBlur")


async def cancelled_on_the_server(log: Callable[[str], None]) -> PromptResult:
    raise RunCancelledError("the run p-x was cancelled", by="server")


class StubClient:
    """Plays one script per run, in order; a realtime batch's runs end with `finals`."""

    def __init__(self, scripts: list[Script], finals: list[PromptResult] | None = None) -> None:
        self.scripts = scripts
        self.finals = finals or []
        self.started: list[dict] = []
        self.stopped = 0  # runs whose request was cancelled (the visitor cancelled them)
        self.cancels: list[str] = []
        self.submits: list[tuple[dict, object]] = []

    async def infer_with_logs(
        self, params, on_log, *, on_phase=None, override_workflow_api=None, on_preview=None
    ):
        script = self.scripts[len(self.started)]
        self.started.append(dict(params))
        try:
            return await script(on_log)
        except asyncio.CancelledError:
            self.stopped += 1
            raise

    async def submit(self, params, override_workflow_api=None) -> str:
        self.submits.append((dict(params), override_workflow_api))
        return self.finals[len(self.submits) - 1].prompt_id

    async def results(self, prompt_ids: list[str]) -> list[PromptResult]:
        return [r for r in self.finals if r.prompt_id in prompt_ids]

    async def cancel(self, prompt_id: str) -> None:
        self.cancels.append(prompt_id)


class StubRunner(Runner):
    """The real runner (outcomes, scrubbing, saving), over the stub client."""

    def __init__(self, client: StubClient, protocol: str = "sse", **endpoint) -> None:
        super().__init__(
            Endpoint("http://stub", client_id="stub-id", client_secret=SECRET, protocol=protocol, **endpoint)
        )  # fmt: skip
        self.stub = client

    def client(self):  # type: ignore[override]
        return self.stub


def queue_of(client: StubClient, *, slots: int = 4, protocol: str = "sse", **endpoint):
    """A queue over the stub, and what its history hooks saw: (state, error) at each end."""
    ended: list[tuple[int, str, str]] = []
    started: list[int] = []
    queue = RunQueue(
        StubRunner(client, protocol, **endpoint),
        asyncio.Semaphore(slots),
        on_start=lambda job: started.append(job.number),
        on_end=lambda job: ended.append((job.number, job.state, job.error)),
    )
    return queue, started, ended


def params(n: int) -> list[Params]:
    return [Params(values={"seed": i}, seeds={"seed": i}) for i in range(n)]


async def settle(queue: RunQueue) -> None:
    async with asyncio.timeout(WAIT):
        async for _ in queue.changes():
            pass


async def test_a_done_run_keeps_its_saved_outputs_and_prompt_id(tmp_path: Path):
    queue, started, ended = queue_of(StubClient([done]))
    [job] = queue.add(params(1), tmp_path)
    await settle(queue)
    assert isinstance(job.outcome, Done) and job.state == "done" and job.prompt_id == "p-done"
    assert [o.path for o in job.outputs] == [tmp_path / "0" / "a.png"]
    assert job.logs == ["got prompt"]
    assert started == [0] and ended == [(0, "done", "")]
    assert st.ended(job.outcome, job.params.seeds).text.endswith(
        "1 output · prompt p-done · seed 0"
    )


async def test_a_failed_run_keeps_its_node_and_the_history_gets_the_bare_reason(tmp_path: Path):
    queue, _, ended = queue_of(StubClient([failed_at_node]))
    [job] = queue.add(params(1), tmp_path)
    await settle(queue)
    assert job.outcome == Failed("bad radius ***", node_id="3", node_type="ImageBlur")
    assert ended == [(0, "failed", "node 3 (ImageBlur): bad radius ***")]
    assert st.ended(job.outcome, {}).text == "Failed: node 3 (ImageBlur): bad radius ***"
    assert job.logs == ["got prompt"], "the logs so far stay"


async def test_a_run_cancelled_on_the_server_is_cancelled_by_the_server(tmp_path: Path):
    queue, _, ended = queue_of(StubClient([cancelled_on_the_server]))
    [job] = queue.add(params(1), tmp_path)
    await settle(queue)
    assert job.outcome == Cancelled("server")
    assert ended == [(0, "cancelled", "")]


async def test_the_visitor_cancels_a_running_run(tmp_path: Path):
    going = asyncio.Event()

    async def endless(log):
        going.set()
        await asyncio.Event().wait()

    client = StubClient([endless])
    queue, _, ended = queue_of(client)
    [job] = queue.add(params(1), tmp_path)
    await asyncio.wait_for(going.wait(), WAIT)
    await queue.cancel()
    assert job.outcome == Cancelled("client") and not queue.busy
    assert client.stopped == 1, "the request was stopped (the client tells the server)"
    assert ended == [(0, "cancelled", "")]


async def test_cancelling_a_pending_run_never_starts_it(tmp_path: Path):
    release = asyncio.Event()

    async def held(log):
        await release.wait()
        return result("p-held")

    client = StubClient([held, done])
    queue, started, ended = queue_of(client, slots=1)  # one run at a time: the second waits
    first, second = queue.add(params(2), tmp_path)
    async with asyncio.timeout(WAIT):
        while first.state != "running":
            await asyncio.sleep(0.01)
    assert second.state == "pending"
    await queue.cancel(second.number)
    assert second.outcome == Cancelled("client") and queue.busy
    release.set()
    await settle(queue)
    assert first.state == "done" and len(client.started) == 1, "the cancelled run was not sent"
    assert started == [0] and sorted(ended) == [(0, "done", ""), (1, "cancelled", "")]
    assert queue.summary() == "1 of 2 done (1 cancelled)"


async def test_a_streamed_batch_ends_each_run_its_own_way(tmp_path: Path):
    queue, _, ended = queue_of(StubClient([done, failed_at_node, cancelled_on_the_server]), slots=1)
    queue.add(params(3), tmp_path)
    await settle(queue)
    assert [j.state for j in queue.jobs] == ["done", "failed", "cancelled"]
    assert [(s, e) for _, s, e in sorted(ended)] == [
        ("done", ""), ("failed", "node 3 (ImageBlur): bad radius ***"), ("cancelled", ""),
    ]  # fmt: skip
    assert queue.summary() == "1 of 3 done (1 failed, 1 cancelled)"


async def test_a_realtime_batch_collects_done_failed_and_cancelled_results(tmp_path: Path):
    failure = {"exception_message": f"no {SECRET}", "node_id": "7", "node_type": "KSampler"}
    finals = [
        result("p-0"),
        result("p-1", "error", failure),
        result("p-2", "cancelled"),
        result("p-3", "error"),  # no detail: the status is the reason
    ]
    client = StubClient([], finals)
    queue, _, ended = queue_of(client, protocol="realtime", gateway_url="http://stub")
    queue.add(params(4), tmp_path)
    await settle(queue)
    outcomes = [j.outcome for j in queue.jobs]
    assert isinstance(outcomes[0], Done) and outcomes[0].prompt_id == "p-0"
    assert outcomes[1:] == [Failed("no ***", "7", "KSampler"), Cancelled("server"), Failed("error")]
    assert [(s, e) for _, s, e in sorted(ended)] == [
        ("done", ""), ("failed", "node 7 (KSampler): no ***"), ("cancelled", ""), ("failed", "error"),
    ]  # fmt: skip


async def test_a_realtime_batch_of_another_form_sends_that_form_s_workflow(tmp_path: Path):
    own = {"1": {"class_type": "EmptyImage", "inputs": {}}}
    client = StubClient([], [result("p-0"), result("p-1")])
    queue, _, _ = queue_of(client, protocol="realtime", gateway_url="http://stub", workflow_api=own)
    queue.add(params(2), tmp_path)
    await settle(queue)
    assert [override for _, override in client.submits] == [own, own]


async def test_a_run_that_fails_before_it_reaches_the_server_ends_failed(tmp_path: Path):
    async def vanished(log):
        raise FileNotFoundError(f"upload {SECRET}.png is gone")

    queue, _, _ = queue_of(StubClient([vanished]))
    [job] = queue.add(params(1), tmp_path)
    await settle(queue)
    assert job.state == "failed" and SECRET not in job.error and "is gone" in job.error


@pytest.mark.parametrize("count", [1, 3])
async def test_changes_end_only_after_the_last_run_is_recorded(count, tmp_path: Path):
    recorded: list[Job] = []

    def slow_record(job: Job) -> None:
        time.sleep(0.05)  # a busy disk: the page must not stop listening before this
        recorded.append(job)

    queue = RunQueue(
        StubRunner(StubClient([done] * count)), asyncio.Semaphore(4), on_end=slow_record
    )
    queue.add(params(count), tmp_path)
    await settle(queue)
    assert len(recorded) == count
