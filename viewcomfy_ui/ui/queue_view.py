"""The one run path: every Run goes through its tab's `RunQueue` (ui/batch.py) and is
streamed onto the page from here: status, logs, outputs, the seeds used, Run / Cancel, and (with
history) `#batch-count`, the `#queue` table and cancelling the picked run.

Without history a queue has no store and runs one run a press (Run is off while it goes); with
history, Run stays on to queue more, and each run is recorded as it starts and ends.

A queue outlives its page: the page's stream only watches it, a reloaded page watches it again,
and only Cancel, or no page for `--orphan-timeout`, stops its runs.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from . import status as st
from .batch import MAX_BATCH, Job, RunQueue, batch_params
from .history import Recorder
from .kinds import FieldWidget
from .runner import Runner
from .values import Params
from .visitor import reattachable, tab_key

if TYPE_CHECKING:
    from .results import Results

Component = gr.components.Component
Owner = Callable[[str | None, gr.Request | None], str]  # token, request -> the owner key
ORPHAN_TIMEOUT = 600.0  # seconds a queue's runs go on with no page watching (--orphan-timeout)


@dataclass(frozen=True)
class FormRun:
    """One press of Run, checked and ready: whose (`owner`: the history's key), from which
    page (`tab`: a browser tab or a script's session, whose queue shows it), what, where its
    files go, how many."""

    owner: str
    tab: str  # the tab's queue key (ui/visitor.py `tab_key`)
    params: Params
    modes: Mapping[str, str]  # each seed's mode (randomize, fixed, increment, decrement)
    directory: Path  # the run folder: uploads, and the outputs under `outputs/`
    stream: bool = True  # live logs, or one plain request
    count: int = 1


@dataclass(frozen=True)
class QueueControls:
    """`#batch-count` (under the form) and the `#queue` table with its cancel button (among the
    results): with history only."""

    count: gr.Number
    table: gr.Dataframe
    cancel: gr.Button

    @staticmethod
    def build_count() -> gr.Number:
        with gr.Row(elem_id="batch"):
            return gr.Number(
                1, minimum=1, maximum=MAX_BATCH, precision=0, step=1, label="Batch count",
                info="runs queued by Run; each seed varies by its own mode", elem_id="batch-count",
            )  # fmt: skip

    @classmethod
    def build(cls, count: gr.Number) -> QueueControls:
        """The `#queue` accordion: this visitor's runs, pending, running and done (pick one to
        cancel it)."""
        with gr.Accordion("Queue", open=True, elem_id="queue-panel"):
            table = gr.Dataframe(
                headers=["#", "state", "seeds", "detail"], datatype="str", interactive=False,
                elem_id="queue", max_height=220, wrap=False,
            )  # fmt: skip
            cancel = gr.Button("Cancel the picked run", size="sm", elem_id="queue-cancel")
        return cls(count=count, table=table, cancel=cancel)


@dataclass(frozen=True)
class Keeping:
    """What history adds to the run path: a recorder per owner, and the history listing to
    show again when results arrive."""

    recorder: Callable[[str], Recorder]
    listing: Callable[[str], dict[Component, Any]]


@dataclass
class _Tab:
    """A tab's queue, kept apart from any page: who owns it, its run folders, and how many
    pages watch it (none for `orphan_timeout`: its runs are cancelled and it is dropped)."""

    queue: RunQueue
    owner: str
    directories: list[Path]
    watchers: int = 0
    timer: asyncio.Task | None = None


class QueueView:
    """Each tab's queue, and how it shows on the page.

    A queue lives on its own (its runs are tasks of the app's event loop): a page's stream only
    watches it, so a run goes on when its page goes away, and the reloaded page watches it
    again (`watch`). With no page watching for `orphan_timeout` seconds, its runs are cancelled
    (recorded so, with the reason) and it is dropped with its run folders."""

    def __init__(
        self,
        runner: Runner,
        limiter: asyncio.Semaphore,
        *,
        widgets: Sequence[FieldWidget],
        results: Results,
        run: gr.Button,
        cancel: gr.Button,
        controls: QueueControls | None = None,
        keeping: Keeping | None = None,
        orphan_timeout: float = ORPHAN_TIMEOUT,
    ) -> None:
        self.runner = runner
        self.limiter = limiter
        self.widgets = widgets
        self.results = results
        self.run_button = run
        self.cancel_button = cancel
        self.controls = controls
        self.keeping = keeping
        self.orphan_timeout = orphan_timeout
        self._tabs: dict[str, _Tab] = {}

    @property
    def outputs(self) -> list[Component]:
        return [self.controls.table] if self.controls else []

    def busy(self, tab: str) -> bool:
        kept = self._tabs.get(tab)
        return kept is not None and kept.queue.busy

    def buttons(self, busy: bool) -> dict[Component, Any]:
        """Cancel is on while runs go; Run too when more may be queued (with the queue)."""
        return {
            self.run_button: gr.update(interactive=self.controls is not None or not busy),
            self.cancel_button: gr.update(interactive=busy),
        }

    async def run(self, request: FormRun) -> AsyncIterator[dict[Component, Any]]:
        """Queue the request's runs in its tab's queue; while that queue was idle, stream its
        progress until it is idle again (runs added meanwhile show in that stream). Each tab has
        its own queue and results; the history (per owner) lists the runs of all of them."""
        seed_fields = [w.field for w in self.widgets if w.mode is not None]
        count = max(1, min(request.count, MAX_BATCH))
        batch = batch_params(request.params, seed_fields, count, request.modes)
        root = request.directory / "outputs"
        kept = self._tabs.get(request.tab)
        if kept is not None and kept.queue.busy:  # added to the running queue: its stream shows it
            kept.queue.add(batch, root, stream=request.stream)
            kept.directories.append(request.directory)
            yield {self.results.status: _status(kept.queue).html()}
            return
        kept = self._new_tab(request)
        kept.queue.add(batch, root, stream=request.stream)
        async for shown in self.watch(request.tab):
            yield shown

    async def watch(self, tab: str) -> AsyncIterator[dict[Component, Any]]:
        """Stream the tab's queue onto a page: all of it at once (a reloaded page gets the
        status, logs and results so far), then each change, until no run is left. Nothing for
        a tab without a queue."""
        kept = self._tabs.get(tab)
        if kept is None:
            return
        kept.watchers += 1
        if kept.timer is not None:
            kept.timer.cancel()
            kept.timer = None
        shown_done = -1
        try:
            async for _ in kept.queue.changes():
                queue = kept.queue
                done_count = sum(j.state == "done" for j in queue.jobs)
                # New results, and all of them once more at the end: a script calling /run
                # gets only the last update.
                fresh = done_count != shown_done or not queue.busy
                shown_done = done_count
                shown = self._show(queue, kept.directories[-1], with_outputs=fresh)
                if fresh and self.keeping:
                    shown.update(self.keeping.listing(kept.owner))
                yield shown
        finally:  # the queue ended, or the page went away: the runs go on without it
            kept.watchers -= 1
            if kept.watchers == 0 and self._tabs.get(tab) is kept:
                kept.timer = asyncio.ensure_future(self._orphaned(tab, kept))

    async def cancel(self, tab: str, number: int | None = None) -> None:
        """Cancel the tab's run `number`, or all its unfinished runs (the visitor asked)."""
        kept = self._tabs.get(tab)
        if kept is not None:
            await kept.queue.cancel(number)

    async def _orphaned(self, tab: str, kept: _Tab) -> None:
        """No page watches the tab's queue: after `orphan_timeout`, cancel what is left and
        drop it (unless a page came back meanwhile). A script's session cannot come back:
        its runs stop at once (as when it cancels its job)."""
        timeout = self.orphan_timeout if reattachable(tab) else 0.0
        await asyncio.sleep(timeout)
        if kept.watchers or self._tabs.get(tab) is not kept:
            return
        if kept.queue.busy:
            minutes = timeout / 60
            await kept.queue.close(
                f"no page watched this run for {minutes:g} minute{'s' if minutes != 1 else ''}"
                " (--orphan-timeout)"
                if timeout
                else "the script that started it stopped listening"
            )
        if kept.watchers == 0 and self._tabs.get(tab) is kept:
            self._drop(tab)

    def _new_tab(self, request: FormRun) -> _Tab:
        """A new queue for the tab, in place of its idle one (dropped with its run folders)."""
        if request.tab in self._tabs:
            self._drop(request.tab)
        hooks = {}
        if self.keeping:
            recorder = self.keeping.recorder(request.owner)
            hooks = {"on_start": recorder.started, "on_end": recorder.ended}
        queue = RunQueue(self.runner, self.limiter, **hooks)
        kept = _Tab(queue, request.owner, [request.directory])
        self._tabs[request.tab] = kept
        return kept

    def _drop(self, tab: str) -> None:
        kept = self._tabs.pop(tab)
        if kept.timer is not None:
            kept.timer.cancel()
        for directory in kept.directories:
            shutil.rmtree(directory, ignore_errors=True)

    def _show(
        self, queue: RunQueue, directory: Path, *, with_outputs: bool
    ) -> dict[Component, Any]:
        """The queue on the page: status, the latest run's logs, the outputs so far (and the
        seeds the newest result used, in the form), the queue table, Run / Cancel."""
        jobs = queue.jobs
        latest = max(jobs, key=lambda j: (j.started or 0, j.number))
        outputs = [o for j in jobs for o in j.outputs] if with_outputs else None
        shown = self.results.show(_status(queue), latest.logs, outputs, directory)
        shown.update(self.results.preview_of(latest.live, latest.outcome))
        if self.controls:
            shown[self.controls.table] = _queue_rows(jobs)
        finished = [j for j in jobs if j.state == "done"]
        if with_outputs and finished:
            seeds = max(finished, key=lambda j: j.finished or 0).params.seeds
            shown.update(
                {w.component: str(seeds[w.field.key]) for w in self.widgets if w.field.key in seeds}
            )
        shown.update(self.buttons(queue.busy))
        return shown

    # --- the #queue table ---------------------------------------------------------------------

    def mount(self, tab_id: gr.State, token: gr.State | None) -> None:
        """Pick a row of `#queue`, then cancel it with `#queue-cancel` (in this tab's queue:
        `tab_id` and the visitor's `token` name it)."""
        self.tab_id, self.token = tab_id, token
        assert self.controls is not None
        picked = gr.State(None)
        private = {"api_visibility": "private", "queue": False}

        async def cancel_picked(values: dict[Component, Any], request: gr.Request):
            tab = tab_key(values[self.tab_id], values.get(self.token), request)
            number = values[picked]
            if not self.busy(tab) or number is None:
                raise gr.Error("Pick a pending or running run in the queue first.")
            await self.cancel(tab, number)

        inputs = {picked, self.tab_id, *([self.token] if self.token is not None else [])}
        self.controls.table.select(_row, outputs=[picked], **private)
        self.controls.cancel.click(cancel_picked, inputs=inputs, **private)


def _status(queue: RunQueue) -> st.Status:
    """One run: its own status ("Running", its progress, how it ended). A batch: how many are
    done, running (on the engine, which runs one at a time), pending, failed and cancelled, and
    a percentage; when it ended, the first failure's reason."""
    jobs = queue.jobs
    if len(jobs) == 1:
        job = jobs[0]
        if job.outcome is not None:
            return st.ended(job.outcome, job.params.seeds)
        if job.live is not None:
            return st.of(job.live, job.params.seeds)
        return st.waiting(0)
    states = [_state(j) for j in jobs]
    finished = sum(j.ended for j in jobs)
    counts = {s: states.count(s) for s in ("done", "running", "pending", "failed", "cancelled")}
    text = " · ".join(
        [f"{counts['done']} of {len(jobs)} done"]
        + [f"{n} {s}" for s, n in counts.items() if n and s != "done"]
    )
    if queue.busy:
        return st.Status("running", f"{text} · {finished / len(jobs):.0%}", finished / len(jobs))
    if counts["done"]:
        return st.Status("done", text)
    if counts["cancelled"] == len(jobs):
        return st.Status("cancelled", text)
    reason = next((j.error for j in jobs if j.error), "")
    return st.Status("failed", f"{text}: {reason}" if reason else text)


def _state(job: Job) -> str:
    """A run's state as it really is: a started run is "pending" while it waits for a worker
    or its turn on ComfyUI (which runs one prompt at a time)."""
    if job.state != "running" or job.live is None:
        return job.state
    progress = job.live.progress
    waiting = job.live.waiting or (progress is not None and progress.queued)
    return "pending" if waiting else "running"


def _queue_rows(jobs: Sequence[Job]) -> list[list[str]]:
    """#queue: number, state, seeds, and what it does now (its node and step), its prompt or
    why it failed (the first line; the status has all of it)."""
    return [
        [
            str(j.number + 1),
            _state(j),
            ", ".join(str(s) for s in j.params.seeds.values()),
            st.headline(j.error) if j.error else _doing(j),
        ]
        for j in jobs
    ]


def _doing(job: Job) -> str:
    progress = job.live.progress if job.live is not None and job.outcome is None else None
    if progress is not None and (progress.node_id or progress.step):
        return progress.words()
    return f"prompt {_short(job.prompt_id)}" if job.prompt_id else ""


def _short(prompt_id: str) -> str:
    """A prompt id cut to its start (the whole one is in the status and the history)."""
    return prompt_id if len(prompt_id) <= 9 else prompt_id[:8] + "…"


def _row(event: gr.SelectData) -> int | None:
    index = event.index
    return int(index[0]) if isinstance(index, list | tuple) and index else None
