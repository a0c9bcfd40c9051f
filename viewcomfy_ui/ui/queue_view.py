"""The one run path: every Run goes through its tab's `RunQueue` (ui/batch.py) and is
streamed onto the page from here: status, logs, outputs, the seeds used, Run / Cancel, and (with
history) `#batch-count`, the `#queue` table and cancelling the picked run.

Without history a queue has no store and runs one run a press (Run is off while it goes); with
history, Run stays on to queue more, and each run is recorded as it starts and ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from ..progress import Progress
from . import status as st
from .batch import MAX_BATCH, Job, RunQueue, batch_params
from .history import Recorder
from .kinds import FieldWidget
from .runner import Runner
from .values import Params
from .visitor import tab_key

if TYPE_CHECKING:
    from .page import Results

Component = gr.components.Component
Owner = Callable[[str | None, gr.Request | None], str]  # token, request -> the owner key


@dataclass(frozen=True)
class FormRun:
    """One press of Run, checked and ready: whose (`owner`: the history's key), from which
    page (`tab`: a browser tab or a script's session, whose queue shows it), what, where its
    files go, how many."""

    owner: str
    tab: str
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


class QueueView:
    """Each visitor's queue, and how it shows on the page."""

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
    ) -> None:
        self.runner = runner
        self.limiter = limiter
        self.widgets = widgets
        self.results = results
        self.run_button = run
        self.cancel_button = cancel
        self.controls = controls
        self.keeping = keeping
        self._queues: dict[str, RunQueue] = {}

    @property
    def outputs(self) -> list[Component]:
        return [self.controls.table] if self.controls else []

    def busy(self, tab: str) -> bool:
        queue = self._queues.get(tab)
        return queue is not None and queue.busy

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
        queue = self._queues.get(request.tab)
        if queue is not None and queue.busy:  # added to the running queue: its stream shows it
            queue.add(batch, root, stream=request.stream)
            yield {self.results.status: st.Status("running", f"Queued: {queue.summary()}").html()}
            return
        queue = self._new_queue(request.tab, request.owner)
        queue.add(batch, root, stream=request.stream)
        shown_done = -1
        try:
            async for _ in queue.changes():
                done_count = sum(j.state == "done" for j in queue.jobs)
                # New results, and all of them once more at the end: a script calling /run
                # gets only the last update.
                fresh = done_count != shown_done or not queue.busy
                shown_done = done_count
                shown = self._show(queue, request.directory, with_outputs=fresh)
                if fresh and self.keeping:
                    shown.update(self.keeping.listing(request.owner))
                yield shown
        finally:
            if queue.busy:  # cancelled from the page, or the visitor left: stop the rest
                await queue.close()
            if self._queues.get(request.tab) is queue and not queue.busy:
                del self._queues[request.tab]

    def _new_queue(self, tab: str, owner: str) -> RunQueue:
        hooks = {}
        if self.keeping:
            recorder = self.keeping.recorder(owner)
            hooks = {"on_start": recorder.started, "on_end": recorder.ended}
        queue = RunQueue(self.runner, self.limiter, **hooks)
        self._queues[tab] = queue
        return queue

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

    def mount(self) -> None:
        """Pick a row of `#queue`, then cancel it with `#queue-cancel` (in this tab's queue)."""
        assert self.controls is not None
        picked = gr.State(None)
        private = {"api_visibility": "private", "queue": False}

        async def cancel_picked(number: int | None, request: gr.Request):
            queue = self._queues.get(tab_key(request))
            if queue is None or number is None:
                raise gr.Error("Pick a pending or running run in the queue first.")
            await queue.cancel(number)

        self.controls.table.select(_row, outputs=[picked], **private)
        self.controls.cancel.click(cancel_picked, inputs=[picked], **private)


def _status(queue: RunQueue) -> st.Status:
    """One run: its own status (cold start, progress, how it ended). A batch: how many are
    done, failed, cancelled, with the first failure's reason."""
    jobs = queue.jobs
    if len(jobs) == 1:
        job = jobs[0]
        if job.outcome is not None:
            return st.ended(job.outcome, job.params.seeds)
        if job.live is not None:
            return st.of(job.live, job.params.seeds)
        return st.waiting(0)
    finished = sum(j.ended for j in jobs)
    text = queue.summary()
    if queue.busy:
        return st.Status("running", text, Progress(finished / len(jobs), finished, len(jobs), None))
    if any(j.state == "done" for j in jobs):
        return st.Status("done", text)
    if all(j.state == "cancelled" for j in jobs):
        return st.Status("cancelled", text)
    reason = next((j.error for j in jobs if j.error), "")
    return st.Status("failed", f"{text}: {reason}" if reason else text)  # says "N failed" once


def _queue_rows(jobs: Sequence[Job]) -> list[list[str]]:
    return [
        [
            str(j.number + 1),
            j.state,
            ", ".join(str(s) for s in j.params.seeds.values()),
            j.error or (f"prompt {_short(j.prompt_id)}" if j.prompt_id else ""),
        ]
        for j in jobs
    ]


def _short(prompt_id: str) -> str:
    """A prompt id cut to its start (the whole one is in the status and the history)."""
    return prompt_id if len(prompt_id) <= 9 else prompt_id[:8] + "…"


def _row(event: gr.SelectData) -> int | None:
    index = event.index
    return int(index[0]) if isinstance(index, list | tuple) and index else None
