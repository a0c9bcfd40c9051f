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
import dataclasses
import random
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..errors import ViewComfyError
from ..fields import Field
from ..models import PromptResult
from ..outputs import SavedOutput, save_output
from .kinds import JS_SAFE_INT
from .runner import Runner
from .status import Status, failure_reason
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
    """One queued run and what became of it."""

    number: int
    params: Params
    run_dir: Path
    batch: str = ""
    stream: bool = True  # a single run: live logs (infer_with_logs) or one plain request (infer)
    state: JobState = "pending"
    prompt_id: str = ""
    error: str = ""
    logs: list[str] = field(default_factory=list)
    status: Status | None = None  # the live status of a streamed run
    outputs: list[SavedOutput] = field(default_factory=list)
    started: float | None = None
    finished: float | None = None

    @property
    def ended(self) -> bool:
        return self.state in ("done", "failed", "cancelled")


Hook = Callable[[Job], None]


class RunQueue:
    """One visitor's runs. `add` queues runs (they start at once, as slots allow); iterate
    `changes` to hear of each start and end; `cancel` stops one run or all unfinished ones.

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
        self._changed = asyncio.Event()
        self._collector: asyncio.Task | None = None
        self._prompt_ids: dict[int, str] = {}  # realtime runs being collected: number -> id

    @property
    def realtime(self) -> bool:
        return self.runner.endpoint.protocol == "realtime"

    def add(
        self, params: Sequence[Params], run_root: Path, batch: str = "", *, stream: bool = True
    ) -> list[Job]:
        """Queue one run per params; each writes its outputs to `run_root/<number>`. `stream`
        False: each run is one plain request (no live logs)."""
        start = len(self.jobs)
        jobs = [
            Job(start + i, p, run_root / str(start + i), batch, stream)
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
        """Yields after each change, until no run is left unfinished and the last change was
        seen (runs that end while the consumer is busy are one last change)."""
        while self.busy or self._changed.is_set():
            await self._changed.wait()
            self._changed.clear()
            yield

    async def cancel(self, number: int | None = None) -> None:
        """Cancel run `number`, or every unfinished run; on the server too."""
        chosen = [j for j in self.jobs if not j.ended and number in (None, j.number)]
        for job in chosen:
            task = self._tasks.get(job.number)
            if job.state == "running" and self.realtime and job.prompt_id:
                try:
                    await self.runner.client().cancel(job.prompt_id)
                except ViewComfyError:
                    pass  # it ended meanwhile; the job is marked cancelled below either way
            if task is not None and not task.done():
                task.cancel()
                await asyncio.wait({task})
            if not job.ended:
                await self._end(job, "cancelled")

    async def close(self) -> None:
        """Cancel what is left and stop collecting (the visitor left)."""
        await self.cancel()
        if self._collector is not None:
            self._collector.cancel()

    # --- one run -------------------------------------------------------------------------

    async def _guarded(self, job: Job, run: Coroutine[None, None, None]) -> None:
        """A run that fails unexpectedly (a vanished upload) ends failed, not stuck running."""
        try:
            await run
        except (ViewComfyError, OSError, ValueError) as exc:
            if not job.ended:
                await self._end(job, "failed", self.runner.endpoint.scrub(str(exc), 500))

    async def _stream(self, job: Job) -> None:
        async with self.limiter:
            await self._begin(job)
            runs = self.runner.run(job.params, stream=job.stream, run_dir=job.run_dir)
            async for update in runs:
                job.logs, job.status = update.logs, update.status
                self._notify()
                if update.finished:
                    job.prompt_id = update.prompt_id
                    if update.outputs is None:
                        await self._end(job, "failed", update.status.text)  # "Failed: why"
                    else:
                        job.outputs = update.outputs
                        await self._end(job, "done")

    async def _submit(self, job: Job) -> None:
        prompt_id = await self.runner.client().submit(job.params.for_client())
        job.prompt_id = self.runner.endpoint.scrub(prompt_id, 80)
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
                    await self._end(
                        self.jobs[number], "failed", self.runner.endpoint.scrub(str(exc), 500)
                    )
                return
            for result in found:
                number = by_id.get(result.prompt_id)
                if number is None or not result.completed or self.jobs[number].ended:
                    continue
                self._prompt_ids.pop(number, None)
                await self._collected(self.jobs[number], result)
            for number in [n for n in self._prompt_ids if self.jobs[n].ended]:
                del self._prompt_ids[number]
            if self._prompt_ids:
                await asyncio.sleep(POLL_INTERVAL)

    async def _collected(self, job: Job, result: PromptResult) -> None:
        scrub = self.runner.endpoint.scrub
        if result.status == "cancelled":
            await self._end(job, "cancelled")
            return
        if result.status != "success":
            await self._end(job, "failed", scrub(str(result.error_data or result.status), 500))
            return
        outputs = [dataclasses.replace(o, filename=scrub(o.filename)) for o in result.outputs]
        try:
            job.outputs = await asyncio.to_thread(
                lambda: [save_output(o, job.run_dir) for o in outputs]
            )
        except (ViewComfyError, OSError) as exc:
            await self._end(job, "failed", scrub(f"could not save the outputs ({exc})", 500))
            return
        await self._end(job, "done")

    async def _begin(self, job: Job) -> None:
        job.state, job.started = "running", time.time()
        if self._on_start:
            await asyncio.to_thread(self._on_start, job)
        self._notify()

    async def _end(self, job: Job, state: JobState, error: str = "") -> None:
        job.error = failure_reason(error) if state == "failed" else error  # the reason alone
        job.state, job.finished = state, time.time()
        if self._on_end:  # recorded before anyone hears of it, so a listing shows it
            await asyncio.shield(asyncio.to_thread(self._on_end, job))
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
