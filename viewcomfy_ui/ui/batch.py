"""Batches and a queue: N runs of one form, with the seeds varied, run side by side.

No widgets here. `batch_params` makes the N params (each seed by its mode: randomize, fixed,
increment, decrement);
`RunQueue` is one visitor's queue: runs may be added while others go, each is pending, running,
done, failed or cancelled. Over SSE a run holds one of the app's `--concurrency` slots while it
streams; over the realtime protocol runs are submitted fire-and-forget and collected together
with `results` (ViewComfy's batch API). `cancel` stops a run, or all that are not finished, on
the server too.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..errors import ViewComfyError
from ..fields import Field
from ..outputs import SavedOutput
from .kinds import JS_SAFE_INT
from .outcome import Cancelled, Done, Failed, Outcome, outcome_of_error
from .runner import Runner, RunUpdate
from .values import Params, random_seed

JobState = Literal["pending", "running", "done", "failed", "cancelled"]
MAX_BATCH = 100
POLL_INTERVAL = 0.5  # seconds between two `results` calls for realtime runs


def batch_params(
    base: Params,
    seed_fields: Sequence[Field],
    count: int,
    modes: Mapping[str, str],
    rng: random.Random | None = None,
) -> list[Params]:
    """`count` params: the first is `base`; the others vary each seed by its mode (randomize: a
    fresh one each; increment / decrement: the first seed + / - n, wrapping around the field's
    range; fixed: the same)."""
    if not 1 <= count <= MAX_BATCH:
        raise ValueError(f"a batch is 1 to {MAX_BATCH} runs, not {count}")
    rng = rng or random.Random()
    batch = [base]
    for n in range(1, count):
        values, seeds = dict(base.values), dict(base.seeds)
        for f in seed_fields:
            mode = modes.get(f.key, f.seed_mode)
            if f.key not in seeds or mode not in ("randomize", "increment", "decrement"):
                continue
            if mode == "randomize":
                seeds[f.key] = random_seed(f, rng)
            else:
                low = int(f.minimum) if f.minimum is not None else 0
                high = int(f.maximum) if f.maximum is not None else JS_SAFE_INT
                step = n if mode == "increment" else -n
                seeds[f.key] = low + (seeds[f.key] - low + step) % (high - low + 1)
            values[f.key] = seeds[f.key]
        batch.append(Params(values=values, files=dict(base.files), seeds=seeds))
    return batch


@dataclass
class Job:
    """One queued run and what became of it: its state follows from its `outcome`."""

    number: int
    params: Params
    run_dir: Path
    stream: bool = True  # a single run: live logs (infer_with_logs) or one plain request (infer)
    prompt_id: str = ""
    logs: list[str] = field(default_factory=list)
    live: RunUpdate | None = None  # the last update of a streamed run (its newest preview too)
    outcome: Outcome | None = None
    started: float | None = None
    finished: float | None = None  # set once the outcome is recorded (the `on_end` hook ran)
    cancel_reason: str = ""  # why it was cancelled, when not by the visitor's own Cancel

    @property
    def state(self) -> JobState:
        if isinstance(self.outcome, Done):
            return "done"
        if isinstance(self.outcome, Failed):
            return "failed"
        if isinstance(self.outcome, Cancelled):
            return "cancelled"
        return "running" if self.started is not None else "pending"

    @property
    def ended(self) -> bool:
        return self.finished is not None

    @property
    def outputs(self) -> tuple[SavedOutput, ...]:
        return self.outcome.outputs if isinstance(self.outcome, Done) else ()

    @property
    def error(self) -> str:
        """Why it failed, with the node: 'node 3 (ImageBlur): reason'; why it was cancelled
        when something other than the visitor's Cancel did it; else ''."""
        if isinstance(self.outcome, Failed):
            return self.outcome.detail
        return self.cancel_reason if isinstance(self.outcome, Cancelled) else ""


Hook = Callable[[Job], None]


class RunQueue:
    """One visitor's runs. `add` queues runs (they start at once, as slots allow); iterate
    `changes` to hear of each start and end (any number of listeners, each from the current
    state on); `cancel` stops one run or all unfinished ones.

    `limiter` bounds SSE runs across every visitor's queue (the app's `--concurrency`).
    `on_start` / `on_end` (sync, run in a worker thread) see each job as it starts and ends:
    the history records it there.
    """

    def __init__(
        self,
        runner: Runner,
        limiter: asyncio.Semaphore,
        *,
        on_start: Hook | None = None,
        on_end: Hook | None = None,
    ) -> None:
        self.runner = runner
        self.limiter = limiter
        self.jobs: list[Job] = []
        self._on_start = on_start
        self._on_end = on_end
        self._tasks: dict[int, asyncio.Task] = {}
        self._version = 0  # counts the changes
        self._changed = asyncio.Event()  # set (and replaced) at each change
        self._collector: asyncio.Task | None = None
        self._prompt_ids: dict[int, str] = {}  # realtime runs being collected: number -> id

    @property
    def realtime(self) -> bool:
        return self.runner.endpoint.protocol == "realtime"

    def add(self, params: Sequence[Params], run_root: Path, *, stream: bool = True) -> list[Job]:
        """Queue one run per params; each writes its outputs to `run_root/<number>`. `stream`
        False: each run is one plain request (no live logs)."""
        start = len(self.jobs)
        jobs = [
            Job(start + i, p, run_root / str(start + i), stream=stream)
            for i, p in enumerate(params)
        ]
        self.jobs += jobs
        fire_and_forget = self.realtime and len(jobs) > 1  # one run streams its logs live
        for job in jobs:
            run = self._submit(job) if fire_and_forget else self._stream(job)
            self._tasks[job.number] = asyncio.create_task(self._guarded(job, run))
        self._notify()
        return jobs

    def summary(self) -> str:
        """'3 of 8 done', with the failed, cancelled and running ones when there are any."""
        counts = {s: sum(j.state == s for j in self.jobs) for s in ("done", "failed", "cancelled", "running")}  # fmt: skip
        text = f"{counts['done']} of {len(self.jobs)} done"
        extra = [f"{n} {s}" for s, n in counts.items() if n and s != "done"]
        return text + (f" ({', '.join(extra)})" if extra else "")

    @property
    def busy(self) -> bool:
        return any(not j.ended for j in self.jobs)

    async def changes(self) -> AsyncIterator[None]:
        """Yields at once (the state so far), then after each change, until no run is left
        unfinished and the last change was seen (changes made while the listener is busy are
        one change)."""
        seen = -1
        while True:
            changed = self._changed
            if seen != self._version:
                seen = self._version
                yield
            elif not self.busy:
                return
            else:
                await changed.wait()

    async def cancel(self, number: int | None = None, *, reason: str = "") -> None:
        """Cancel run `number`, or every unfinished run; on the server too. `reason`: why, when
        the visitor did not ask (kept with each run)."""
        chosen = [j for j in self.jobs if j.outcome is None and number in (None, j.number)]
        for job in chosen:
            job.cancel_reason = reason
            task = self._tasks.get(job.number)
            if job.number in self._prompt_ids:  # a realtime batch's run: stop it over there
                try:
                    await self.runner.client().cancel(self._prompt_ids[job.number])
                except ViewComfyError:
                    pass  # it ended meanwhile; the job is marked cancelled below either way
            if task is not None and not task.done():
                task.cancel()
                await asyncio.wait({task})
            await self._end(job, Cancelled("client"))

    async def close(self, reason: str = "") -> None:
        """Cancel what is left and stop collecting (the visitor left: `reason` says so)."""
        await self.cancel(reason=reason)
        if self._collector is not None:
            self._collector.cancel()

    # --- one run -------------------------------------------------------------------------

    async def _guarded(self, job: Job, run: Coroutine[None, None, None]) -> None:
        """A run that fails unexpectedly (a vanished upload) ends failed, not stuck running."""
        try:
            await run
        except (ViewComfyError, OSError, ValueError) as exc:
            await self._end(job, outcome_of_error(exc, self._scrub))

    async def _stream(self, job: Job) -> None:
        async with self.limiter:
            await self._begin(job)
            runs = self.runner.run(job.params, stream=job.stream, run_dir=job.run_dir)
            async for update in runs:
                job.logs, job.live = update.logs, update
                if update.outcome is not None:
                    await self._end(job, update.outcome)
                else:
                    self._notify()

    async def _submit(self, job: Job) -> None:
        endpoint = self.runner.endpoint  # a file's other forms send their own workflow
        prompt_id = await self.runner.client().submit(
            job.params.for_client(), endpoint.workflow_api
        )
        job.prompt_id = self._scrub(prompt_id, 80)
        self._prompt_ids[job.number] = prompt_id
        await self._begin(job)
        if self._collector is None or self._collector.done():
            self._collector = asyncio.create_task(self._collect())

    async def _collect(self) -> None:
        """Ask for the results of every running realtime run until none is left."""
        while self._prompt_ids:
            by_id = {pid: n for n, pid in self._prompt_ids.items()}
            try:
                found = await self.runner.client().results(list(by_id))
            except ViewComfyError as exc:
                for number in list(self._prompt_ids):
                    del self._prompt_ids[number]
                    await self._end(self.jobs[number], outcome_of_error(exc, self._scrub))
                return
            for result in found:
                number = by_id.get(result.prompt_id)
                if number is None or not result.completed or self.jobs[number].outcome is not None:
                    continue
                self._prompt_ids.pop(number, None)
                job = self.jobs[number]
                seconds = time.time() - (job.started or time.time())
                await self._end(job, await self.runner.ended(result, job.run_dir, seconds))
            for number in [n for n in self._prompt_ids if self.jobs[n].outcome is not None]:
                del self._prompt_ids[number]
            if self._prompt_ids:
                await asyncio.sleep(POLL_INTERVAL)

    async def _begin(self, job: Job) -> None:
        job.started = time.time()
        if self._on_start:
            await asyncio.to_thread(self._on_start, job)
        self._notify()

    async def _end(self, job: Job, outcome: Outcome) -> None:
        """Keep how `job` ended (the first outcome wins), record it, then tell the listeners."""
        if job.outcome is not None:
            return
        job.outcome = outcome
        if isinstance(outcome, Done):
            job.prompt_id = outcome.prompt_id
        try:
            if self._on_end:  # recorded before anyone hears of it, so a listing shows it
                await asyncio.shield(asyncio.to_thread(self._on_end, job))
        finally:
            job.finished = time.time()
            self._notify()

    def _scrub(self, text: str, limit: int | None = 500) -> str:
        return self.runner.endpoint.scrub(text, limit)

    def _notify(self) -> None:
        self._version += 1
        self._changed.set()
        self._changed = asyncio.Event()
