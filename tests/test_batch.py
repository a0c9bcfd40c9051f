"""Batches and the queue against the real local server, over both protocols: seed modes, bounded
concurrency, results as they arrive, progress, cancelling the rest (on the server too)."""

from __future__ import annotations

import asyncio
import random
import threading

import pytest
from local_server import local_server

from viewcomfy_ui.fields import Field
from viewcomfy_ui.server.engine import BuiltinEngine, RunCancelled
from viewcomfy_ui.server.nodes import OutputFile
from viewcomfy_ui.ui.batch import MAX_BATCH, RunQueue, batch_params
from viewcomfy_ui.ui.runner import Endpoint, Runner
from viewcomfy_ui.ui.values import Params

pytestmark = pytest.mark.leak_prone
SEED = Field(
    key="3-inputs-value", node_id="3", node_title="Seed", input_name="value",
    label="Seed", kind="seed", value=14251326, minimum=0, maximum=100,
)  # fmt: skip
WAIT = 30  # an upper bound on waiting, not a speed requirement


def test_seed_modes():
    base = Params(values={"3-inputs-value": 98, "6-inputs-text": "a"}, seeds={SEED.key: 98})
    fixed = batch_params(base, [SEED], 3, {SEED.key: "fixed"})
    increment = batch_params(base, [SEED], 4, {SEED.key: "increment"})
    decrement = batch_params(base, [SEED], 3, {SEED.key: "decrement"})
    randomized = batch_params(base, [SEED], 30, {SEED.key: "randomize"}, random.Random(1))
    assert [p.seeds[SEED.key] for p in fixed] == [98, 98, 98]
    assert [p.values[SEED.key] for p in increment] == [98, 99, 100, 0]  # wraps at the maximum
    assert [p.values[SEED.key] for p in decrement] == [98, 97, 96]
    assert all(p.values["6-inputs-text"] == "a" for p in increment)
    seeds = [p.values[SEED.key] for p in randomized]
    assert len(set(seeds)) > 10 and all(0 <= s <= 100 for s in seeds)
    with pytest.raises(ValueError, match="1 to 100"):
        batch_params(base, [SEED], MAX_BATCH + 1, {})


class GatedEngine(BuiltinEngine):
    """Writes the seed it got into its output; holds each run until `gate` opens or it is
    cancelled; counts how many run at once."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.tickets = threading.Semaphore(0)  # each release lets one run finish
        self.lock = threading.Lock()
        self.running = self.most = self.stopped = 0

    def check(self, workflow, inputs):
        pass

    def run(self, workflow, inputs, log, cancelled):
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            log("got prompt")
            while not self.gate.is_set() and not self.tickets.acquire(blocking=False):
                if cancelled.wait(0.01):
                    with self.lock:
                        self.stopped += 1
                    raise RunCancelled("the run was cancelled")
            seed = workflow["3"]["inputs"]["value"]
            return [OutputFile(f"seed_{seed}.txt", "text/plain", str(seed).encode())]
        finally:
            with self.lock:
                self.running -= 1


OPENED: list[RunQueue] = []


@pytest.fixture(autouse=True)
async def close_clients():
    """Each test's queues' connections are closed when it ends."""
    yield
    while OPENED:
        await OPENED.pop().runner.client().aclose()


def queue_for(url: str, protocol: str, slots: int = 8) -> RunQueue:
    endpoint = Endpoint(url, local=True, protocol=protocol, gateway_url=url)
    queue = RunQueue(Runner(endpoint), asyncio.Semaphore(slots))
    OPENED.append(queue)
    return queue


def seeded(count: int) -> list[Params]:
    base = Params(values={SEED.key: 1}, seeds={SEED.key: 1})
    return batch_params(base, [SEED], count, {SEED.key: "increment"})


async def until(condition, what: str) -> None:
    for _ in range(WAIT * 50):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never: {what}")


@pytest.mark.parametrize("protocol", ["sse", "realtime"])
async def test_a_batch_reports_progress_and_each_result_as_it_arrives(protocol, tmp_path):
    engine = GatedEngine()
    seen: list[str] = []

    async def watch(queue: RunQueue) -> None:
        async for _ in queue.changes():
            seen.append(queue.summary())
            await asyncio.sleep(0.05)  # a page busy rendering: runs end meanwhile

    with local_server(engine=engine) as url:
        queue = queue_for(url, protocol)
        jobs = queue.add(seeded(5), tmp_path)
        watching = asyncio.create_task(watch(queue))
        await until(lambda: engine.running == 5, "five runs going")
        engine.tickets.release()  # one run ends: its result is there before the others'
        await until(lambda: "1 of 5 done (4 running)" in seen, "progress after one result")
        assert sum(bool(j.outputs) for j in jobs) == 1
        engine.gate.set()
        await asyncio.wait_for(watching, WAIT)
    assert seen[-1] == "5 of 5 done"
    for n, job in enumerate(jobs):  # each run's own result, with its own seed
        [output] = job.outputs
        assert output.path.read_text() == str(1 + n) and output.path.parent == tmp_path / str(n)
        assert job.state == "done" and job.prompt_id
    assert len({j.prompt_id for j in jobs}) == 5


async def test_sse_runs_hold_at_most_the_concurrency_slots(tmp_path):
    engine = GatedEngine()
    with local_server(engine=engine) as url:
        queue = queue_for(url, "sse", slots=2)
        queue.add(seeded(5), tmp_path)
        await until(lambda: engine.running == 2, "two runs going")
        await asyncio.sleep(0.3)  # a third would have started by now
        states = [j.state for j in queue.jobs]
        engine.gate.set()
        async with asyncio.timeout(WAIT):
            async for _ in queue.changes():
                pass
    assert states.count("running") == 2 and states.count("pending") == 3
    assert engine.most == 2 and queue.summary() == "5 of 5 done"


async def test_runs_added_while_others_go_join_the_queue(tmp_path):
    engine = GatedEngine()
    with local_server(engine=engine) as url:
        queue = queue_for(url, "sse", slots=4)
        queue.add(seeded(2), tmp_path)
        await until(lambda: engine.running == 2, "first batch going")
        later = queue.add(seeded(1), tmp_path)
        engine.gate.set()
        async with asyncio.timeout(WAIT):
            async for _ in queue.changes():
                pass
    assert [j.number for j in queue.jobs] == [0, 1, 2] and later[0].state == "done"
    assert queue.summary() == "3 of 3 done"


@pytest.mark.parametrize("protocol", ["sse", "realtime"])
async def test_cancel_stops_the_rest_on_the_server_too(protocol, tmp_path):
    engine = GatedEngine()
    with local_server(engine=engine) as url:
        queue = queue_for(url, protocol, slots=2)
        queue.add(seeded(4), tmp_path)
        expected = 2 if protocol == "sse" else 4  # realtime: all submitted at once
        await until(lambda: engine.running == expected, "runs going on the server")
        await queue.cancel(queue.jobs[0].number)  # one run
        await until(lambda: engine.stopped == 1, "the server stopped that run")
        assert queue.jobs[0].state == "cancelled" and queue.busy
        await queue.cancel()  # the rest
        await until(lambda: engine.running == 0, "the server stopped every run")
    assert [j.state for j in queue.jobs] == ["cancelled"] * 4
    assert engine.stopped >= 3 if protocol == "realtime" else engine.stopped >= 2
    assert queue.summary() == "0 of 4 done (4 cancelled)"


async def test_a_failed_run_is_reported_and_the_others_go_on(tmp_path):
    with local_server() as url:  # the real built-in engine on the demo workflow
        queue = queue_for(url, "sse")
        good = Params(values={"6-inputs-blur_radius": 3})
        bad = Params(values={"2-inputs-width": -5})
        queue.add([good, bad, good], tmp_path)
        async with asyncio.timeout(WAIT):
            async for _ in queue.changes():
                pass
    assert [j.state for j in queue.jobs] == ["done", "failed", "done"]
    assert queue.jobs[1].error and queue.jobs[0].outputs
    assert queue.summary() == "2 of 3 done (1 failed)"
    assert not queue.jobs[1].error.lower().startswith(("failed", "the run failed")), (
        "the job keeps the reason alone; the page says 'failed' once"
    )


@pytest.mark.parametrize("protocol", ["sse", "realtime"])
async def test_a_single_run_streams_its_logs_and_status_live(protocol, tmp_path):
    engine = GatedEngine()
    with local_server(engine=engine) as url:
        queue = queue_for(url, protocol)
        [job] = queue.add(seeded(1), tmp_path)
        await until(lambda: "got prompt" in job.logs, "the run's first log line, while it runs")
        assert job.state == "running" and job.live is not None
        engine.gate.set()
        await until(lambda: job.ended, "the run to end")
    assert job.state == "done" and job.live.outcome == job.outcome


class StoppedOnTheServer(BuiltinEngine):
    """Stops every run itself, as the dashboard or a shutdown would: no client asked."""

    def check(self, workflow, inputs):
        pass

    def run(self, workflow, inputs, log, cancelled):
        log("got prompt")
        cancelled.set()
        raise RunCancelled("the run was cancelled")


@pytest.mark.parametrize("count", [1, 2])  # one run streams; a batch is collected with results
async def test_a_run_cancelled_on_the_server_is_kept_as_cancelled_not_failed(count, tmp_path):
    ended: list[tuple[str, str]] = []
    with local_server(engine=StoppedOnTheServer()) as url:
        endpoint = Endpoint(url, local=True, protocol="realtime", gateway_url=url)
        queue = RunQueue(
            Runner(endpoint),
            asyncio.Semaphore(2),
            on_end=lambda j: ended.append((j.state, j.error)),
        )
        OPENED.append(queue)
        queue.add(seeded(count), tmp_path)
        async with asyncio.timeout(WAIT):
            async for _ in queue.changes():
                pass
    assert ended == [("cancelled", "")] * count, "what the history records"
