"""The page's kept work: batches and the queue, the `#history` section, share links.

`HistorySection.build` lays out its parts where the page calls it; `mount` wires them. With
history on, every Run goes through the visitor's `RunQueue` (ui/batch.py): Run while runs go
adds to the queue, `#batch-count` queues N runs, and each run is recorded in the store as it
starts and ends. A visitor is a random token kept in their browser (`gr.BrowserState`), or the
login name with --auth; every store query takes it, so no one sees another's runs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import html
import json
import secrets
import tempfile
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr
from PIL import Image as PILImage

from ..history import HistoryStore, RunRecord
from ..progress import Progress
from . import status as st
from .batch import MAX_BATCH, Job, RunQueue, batch_params
from .kinds import FieldWidget, Media
from .runner import Runner, RunUpdate
from .values import Params, validate

PAGE_SIZE = 12
OWNER_KEY = "viewcomfy-ui-owner"
TILES = Path(tempfile.gettempdir()) / "viewcomfy-ui-tiles"  # plain tiles for runs without images
SHARE_JS = """(query) => {
  if (!query) return "";
  const link = window.location.origin + window.location.pathname + query;
  navigator.clipboard?.writeText(link).catch(() => {});
  return link;
}"""
Component = gr.components.Component


@dataclass(frozen=True)
class HistoryContext:
    """What the app gives the section: the store and what every record says about the app.

    `scope` keeps one form's runs apart from another's when a file has several workflows
    (empty: the file's first, or only, form). `slots` holds what every form's section shares:
    the `concurrency` semaphore and the browser's owner token."""

    store: HistoryStore
    secret: str  # encrypts the owner token kept in the browser
    workflow_name: str
    workflow_hash: str
    concurrency: int
    scope: str = ""
    slots: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def for_form(
        self, index: int, title: str, workflow_api: Mapping[str, Any] | None
    ) -> HistoryContext:
        """The context of the `index`-th form of a file: the first keeps the file's history;
        each other one gets its own, named and hashed after its own workflow."""
        if index == 0:
            return self
        content = json.dumps(workflow_api, sort_keys=True, default=str).encode()
        digest = hashlib.sha256(content).hexdigest()
        scope = hashlib.sha256(title.encode() + b"\0" + content).hexdigest()[:16]
        name = f"{self.workflow_name} · {title}"
        return dataclasses.replace(self, workflow_name=name, workflow_hash=digest, scope=scope)

    @property
    def limiter(self) -> asyncio.Semaphore:
        """The app's run slots (made on first use, inside the server's event loop)."""
        if "runs" not in self.slots:
            self.slots["runs"] = asyncio.Semaphore(self.concurrency)
        return self.slots["runs"]


@dataclass
class Controls:
    """Batch controls (under the form) and the queue (under the results)."""

    count: gr.Number
    queue: gr.Dataframe
    queue_cancel: gr.Button


@dataclass
class Browser:
    """The `#history` section: thumbnails, paging, the selected run and what to do with it."""

    note: gr.HTML
    gallery: gr.Gallery
    prev: gr.Button
    page_label: gr.HTML
    next: gr.Button
    outputs: gr.Gallery
    status: gr.HTML
    params: gr.Code
    use: gr.Button
    delete: gr.Button
    send_target: gr.Dropdown
    send: gr.Button
    share: gr.Button
    share_link: gr.Textbox


class HistorySection:
    """Kept work for one page: built in two places, then mounted."""

    def __init__(self, context: HistoryContext, runner: Runner, widgets: list[FieldWidget]):
        self.context = context
        self.store = context.store
        self.runner = runner
        self.widgets = widgets
        # One token per browser, kept by the first form's section: a file's other forms sit in
        # tabs that are not on the page until picked, where a BrowserState would read nothing.
        shared = context.slots.get("owner")
        self.keeps_token = shared is None
        self.owner = shared or gr.BrowserState(None, storage_key=OWNER_KEY, secret=context.secret)
        context.slots.setdefault("owner", self.owner)
        # The token again, as session state the page's load fills: Run reads this one, so a
        # script calling /run has nothing to pass (its runs belong to its session).
        self.token = context.slots.get("token") or gr.State(None)
        context.slots.setdefault("token", self.token)
        self.page = gr.State(0)
        self.shown_ids = gr.State([])  # run ids of the thumbnails on the current page
        self.selected = gr.State(None)  # the selected run's id
        self.picked = gr.State(None)  # the result picked to send into a field
        self.queued_pick = gr.State(None)  # the queue row picked to cancel
        self.controls: Controls | None = None
        self.browser: Browser | None = None
        self._queues: dict[str, RunQueue] = {}
        self._count: gr.Number | None = None

    # --- layout ------------------------------------------------------------------------------

    def build_batch(self) -> None:
        """`#batch-count`, under the form."""
        with gr.Row(elem_id="batch"):
            self._count = gr.Number(
                1, minimum=1, maximum=MAX_BATCH, precision=0, step=1, label="Batch count",
                info="runs queued by Run; each seed varies by its own mode", elem_id="batch-count",
            )  # fmt: skip

    def build_queue(self) -> None:
        """`#queue`: this visitor's runs, pending, running and done (pick one to cancel it),
        among the results, below the status and outputs (after `build_batch`)."""
        assert self._count is not None
        with gr.Accordion("Queue", open=True, elem_id="queue-panel"):
            queue = gr.Dataframe(
                headers=["#", "state", "seeds", "detail"], datatype="str", interactive=False,
                elem_id="queue", max_height=220, wrap=False,
            )  # fmt: skip
            cancel = gr.Button("Cancel the picked run", size="sm", elem_id="queue-cancel")
        self.controls = Controls(self._count, queue, cancel)

    def build_browser(self) -> None:
        """The `#history` section (full width, below the form and results)."""
        media = [(w.field.label, w.field.key) for w in self.widgets if isinstance(w.kind, Media)]
        with gr.Accordion("History", open=True, elem_id="history"):
            note = gr.HTML(elem_id="history-note")
            gallery = gr.Gallery(
                label="Past runs (newest first)", elem_id="history-gallery", columns=6,
                height=260, allow_preview=False, interactive=False, object_fit="cover",
            )  # fmt: skip
            with gr.Row():
                prev = gr.Button("Newer", size="sm", elem_id="history-prev")
                label = gr.HTML(elem_id="history-page")
                nxt = gr.Button("Older", size="sm", elem_id="history-next")
            with gr.Row(equal_height=False):
                outputs = gr.Gallery(
                    label="Outputs of the selected run", elem_id="history-outputs", columns=3,
                    height=300, interactive=False, buttons=["download", "fullscreen"],
                )  # fmt: skip
                with gr.Column():
                    status = gr.HTML(elem_id="history-status")
                    params = gr.Code(label="Params sent", language="json", elem_id="history-params")
                    with gr.Row():
                        use = gr.Button("Use these settings", elem_id="history-use", size="sm")
                        delete = gr.Button(
                            "Delete", variant="stop", elem_id="history-delete", size="sm"
                        )
            with gr.Row(equal_height=True):
                target = gr.Dropdown(
                    media, value=media[0][1] if media else None, label="Send the picked result to",
                    elem_id="send-target", visible=bool(media), scale=2,
                )  # fmt: skip
                send = gr.Button(
                    "Send to the form", elem_id="send-result", visible=bool(media), size="sm"
                )
                share = gr.Button("Copy a link to these settings", elem_id="share", size="sm")
                link = gr.Textbox(
                    label="Share link", elem_id="share-link", interactive=False, scale=3,
                    buttons=["copy"],
                )  # fmt: skip
        self.browser = Browser(
            note, gallery, prev, label, nxt, outputs, status, params, use, delete, target, send,
            share, link,
        )  # fmt: skip

    # --- what the run handler uses --------------------------------------------------------------

    @property
    def inputs(self) -> set[Component]:
        assert self.controls is not None
        return {self.token, self.controls.count}

    @property
    def outputs(self) -> list[Component]:
        assert self.controls is not None and self.browser is not None
        b = self.browser
        return [self.controls.queue, b.gallery, b.page_label, self.shown_ids, self.page]

    def busy(self, values: dict[Component, Any], request: gr.Request | None) -> bool:
        queue = self._queues.get(self._owner(values[self.token], request))
        return queue is not None and queue.busy

    async def run(
        self,
        values: dict[Component, Any],
        params: Params,
        modes: dict[str, str],
        directory: Path,
        results: Any,
        buttons: tuple[gr.Button, gr.Button],
        request: gr.Request | None,
        stream: bool = True,
    ) -> AsyncIterator[dict[Component, Any]]:
        """Queue the form's runs (a batch of `#batch-count`); while this visitor's queue was
        idle, stream its progress until it is idle again. Run stays on (to queue more); Cancel
        is on while runs go."""
        assert self.controls is not None
        owner = self._owner(values[self.token], request)
        count = int(values[self.controls.count] or 1)
        seed_fields = [w.field for w in self.widgets if w.mode is not None]
        batch = batch_params(params, seed_fields, max(1, min(count, MAX_BATCH)), modes)
        tag = secrets.token_hex(4)
        queue = self._queues.get(owner)
        if queue is not None and queue.busy:  # added to the running queue: its stream shows it
            queue.add(batch, directory / "outputs", batch=tag, stream=stream)
            yield {results.status: st.Status("running", f"Queued: {queue.summary()}").html()}
            return
        queue = self._queue_for(owner)
        queue.add(batch, directory / "outputs", batch=tag, stream=stream)
        shown_done = -1
        try:
            async for _ in queue.changes():
                done_count = sum(j.state == "done" for j in queue.jobs)
                # New results, and all of them once more at the end: a script calling /run
                # gets only the last update.
                fresh = done_count != shown_done or not queue.busy
                shown = self._show(queue, results, directory, with_outputs=fresh)
                if fresh:
                    shown.update(self._page_of(owner, 0))
                shown_done = done_count
                run, cancel = buttons
                shown[run] = gr.update(interactive=True)
                shown[cancel] = gr.update(interactive=queue.busy)
                yield shown
        finally:
            if queue.busy:  # cancelled from the page, or the visitor left: stop the rest
                await queue.close()
            if self._queues.get(owner) is queue and not queue.busy:
                del self._queues[owner]

    def _queue_for(self, owner: str) -> RunQueue:
        records: dict[int, str | None] = {}
        store, ctx, endpoint = self.store, self.context, self.runner.endpoint

        def started(job: Job) -> None:
            records[job.number] = store.start(
                owner, workflow_name=ctx.workflow_name, workflow_hash=ctx.workflow_hash,
                params=job.params.values, uploads=job.params.files, seeds=job.params.seeds,
                protocol=endpoint.protocol, endpoint=endpoint.public_url or "local engine",
                batch=job.batch,
            )  # fmt: skip

        def ended(job: Job) -> None:
            store.finish(
                owner, records.pop(job.number, None), status=job.state, prompt_id=job.prompt_id,
                error=job.error, logs=job.logs, outputs=[(o.path, o.kind) for o in job.outputs],
            )  # fmt: skip

        queue = RunQueue(self.runner, ctx.limiter, on_start=started, on_end=ended)
        self._queues[owner] = queue
        return queue

    def _show(
        self, queue: RunQueue, results: Any, directory: Path, *, with_outputs: bool
    ) -> dict[Component, Any]:
        assert self.controls is not None
        jobs = queue.jobs
        latest = max(jobs, key=lambda j: (j.started or 0, j.number))
        if len(jobs) == 1 and latest.status is not None and not latest.ended:
            status = latest.status
        else:
            status = _batch_status(queue)
        outputs = [o for j in jobs if j.state == "done" for o in j.outputs]
        update = RunUpdate(status, latest.logs, outputs=outputs if with_outputs else None)
        shown = results.show(update, directory)
        shown[self.controls.queue] = _queue_rows(jobs)
        finished = [j for j in jobs if j.state == "done"]
        if with_outputs and finished:  # the seeds the newest result used, shown in the form
            seeds = max(finished, key=lambda j: j.finished or 0).params.seeds
            shown.update(
                {w.component: str(seeds[w.field.key]) for w in self.widgets if w.field.key in seeds}
            )
        return shown

    # --- wiring ----------------------------------------------------------------------------------

    def mount(self, page: gr.Blocks, form_components: list[Component], results: Any) -> None:
        """Wire the section: load (owner token, history, a shared link), paging, select,
        Use these settings, Delete, send a result into a field, share, cancel a queued run."""
        assert self.controls is not None and self.browser is not None
        b, c = self.browser, self.controls
        listing = [b.gallery, b.page_label, self.shown_ids, self.page]
        private = {"api_visibility": "private", "queue": False}
        owner = [self.owner, self.token] if self.keeps_token else []  # the first section writes it
        page.load(
            self.loaded, inputs=[self.owner], outputs=[*owner, b.note, *listing, *form_components],
            **private,
        )  # fmt: skip
        b.prev.click(self.paged(-1), inputs=[self.owner, self.page], outputs=listing, **private)
        b.next.click(self.paged(+1), inputs=[self.owner, self.page], outputs=listing, **private)
        details = [self.selected, b.outputs, b.status, b.params]
        b.gallery.select(self.selected_run, inputs=[self.owner, self.shown_ids], outputs=details, **private)  # fmt: skip
        b.use.click(self.use, inputs=[self.owner, self.selected], outputs=form_components, **private)  # fmt: skip
        b.delete.click(
            self.deleted, inputs=[self.owner, self.selected, self.page],
            outputs=[*details, *listing], **private,
        )  # fmt: skip
        results.gallery.select(_picked, outputs=[self.picked], **private)
        b.outputs.select(_picked, outputs=[self.picked], **private)
        media = {w.field.key: w.component for w in self.widgets if isinstance(w.kind, Media)}
        if media:
            b.send.click(
                self.sent(media), inputs=[self.picked, b.send_target], outputs=list(media.values()),
                **private,
            )  # fmt: skip
        b.share.click(
            self.share_query, inputs=set(form_components), outputs=[b.share_link], **private
        ).then(None, inputs=[b.share_link], outputs=[b.share_link], js=SHARE_JS, **private)
        c.queue.select(_row, outputs=[self.queued_pick], **private)
        c.queue_cancel.click(self.cancel_picked, inputs=[self.owner, self.queued_pick], **private)

    # --- handlers --------------------------------------------------------------------------------

    def loaded(self, token: str | None, request: gr.Request) -> list[Any]:
        """A new visitor gets a random token (from the first form's section; the others show
        an empty history until then); a shared link's query restores the form."""
        if not token and self.keeps_token:
            token = secrets.token_urlsafe(24)
        owner = self._owner(token, request)
        note = self.store.problem or ""
        form = self._from_query(dict(request.query_params) if request else {})
        shown = [_note(note), *self._page_of(owner, 0).values(), *form]
        return [token, token, *shown] if self.keeps_token else shown

    def paged(self, step: int) -> Callable[..., dict[Component, Any]]:
        def page(token: str | None, number: int, request: gr.Request) -> dict[Component, Any]:
            return self._page_of(self._owner(token, request), number + step)

        return page

    def _page_of(self, owner: str, number: int) -> dict[Component, Any]:
        assert self.browser is not None
        b = self.browser
        total = self.store.count(owner)
        pages = max(1, -(-total // PAGE_SIZE))
        number = max(0, min(number, pages - 1))
        runs = self.store.list(owner, offset=number * PAGE_SIZE, limit=PAGE_SIZE)
        thumbs = [(str(self._thumbnail(owner, r)), _caption(r)) for r in runs]
        label = f'<span data-total="{total}">Page {number + 1} of {pages} · {total} runs</span>'
        return {b.gallery: thumbs, b.page_label: label, self.shown_ids: [r.id for r in runs], self.page: number}  # fmt: skip

    def _thumbnail(self, owner: str, run: RunRecord) -> Path:
        for f in run.outputs:
            if f.kind in ("image", "video"):
                path = self.store.file(owner, run.id, f.name)
                if path is not None:
                    return path
        return _placeholder(TILES, run.status)

    def selected_run(
        self, token: str | None, ids: list[str], event: gr.SelectData, request: gr.Request
    ) -> list[Any]:
        owner = self._owner(token, request)
        index = event.index if isinstance(event.index, int) else None
        run = self.store.get(owner, ids[index]) if index is not None and index < len(ids) else None
        if run is None:
            return [None, [], "", ""]
        files = [self.store.file(owner, run.id, f.name) for f in run.outputs]
        shown = [(str(p), p.name) for p in files if p is not None]
        return [run.id, shown, _run_status(run), json.dumps(run.params, indent=2)]

    def use(self, token: str | None, run_id: str | None, request: gr.Request) -> list[Any]:
        """The form as the run had it, its seeds fixed to the ones used."""
        owner = self._owner(token, request)
        run = self.store.get(owner, run_id) if run_id else None
        if run is None:
            raise gr.Error("Select a run in the history first.")
        values: list[Any] = []
        modes: list[Any] = []
        uploads = run.uploads
        for w in self.widgets:
            key = w.field.key
            if isinstance(w.kind, Media):
                kept = uploads.get(key)
                path = self.store.file(owner, run.id, kept.name) if kept else None
                values.append(str(path) if path else w.kind.reset(w.field, w.default_file))
            elif key in run.seeds or key in run.params:
                value = run.seeds.get(key, run.params.get(key))
                values.append(w.kind.reset(dataclasses.replace(w.field, value=value), None))
            else:
                values.append(w.kind.reset(w.field, w.default_file))
            if w.mode is not None:
                modes.append("fixed")
        return values + modes

    def deleted(
        self, token: str | None, run_id: str | None, number: int, request: gr.Request
    ) -> list[Any]:
        owner = self._owner(token, request)
        if not run_id or not self.store.delete(owner, run_id):
            raise gr.Error("Select a run in the history first.")
        return [None, [], "", "", *self._page_of(owner, number).values()]

    def sent(self, media: dict[str, Component]) -> Callable[..., dict[Component, Any]]:
        def send(picked: str | None, key: str | None) -> dict[Component, Any]:
            if not picked or key not in media:
                raise gr.Error("Pick a result (click it in a gallery) first.")
            return {media[key]: picked}

        return send

    def share_query(self, values: dict[Component, Any]) -> str:
        """The query string of the form's values that differ from the workflow's (no uploads)."""
        query = {}
        for w in self.widgets:
            if isinstance(w.kind, Media) or validate(w.field, values[w.component]):
                continue
            value = w.kind.coerce(w.field, values[w.component])
            if value != w.field.value:
                query[w.field.key] = json.dumps(value)
        return "?" + urllib.parse.urlencode(query) if query else "?"

    def _from_query(self, query: dict[str, str]) -> list[Any]:
        """Form values from a shared link; a value that does not fit its field is left out."""
        values, modes = [], []
        for w in self.widgets:
            restored = w.kind.reset(w.field, w.default_file)
            raw = query.get(w.field.key)
            if raw is not None and not isinstance(w.kind, Media):
                try:
                    value = json.loads(raw)
                except ValueError:
                    value = raw
                candidate = w.kind.reset(dataclasses.replace(w.field, value=value), None)
                if validate(w.field, candidate) is None:
                    restored = candidate
            values.append(restored)
            if w.mode is not None:
                modes.append("fixed" if raw is not None else w.field.seed_mode)
        return values + modes if query else [gr.skip()] * (len(values) + len(modes))

    async def cancel_picked(self, token: str | None, number: int | None, request: gr.Request):
        queue = self._queues.get(self._owner(token, request))
        if queue is None or number is None:
            raise gr.Error("Pick a pending or running run in the queue first.")
        await queue.cancel(number)

    def _owner(self, token: str | None, request: gr.Request | None) -> str:
        """Whose runs: the login (with --auth), else the browser's token; within this form."""
        user = getattr(request, "username", None) if request else None
        if user:
            owner = f"user:{user}"
        else:
            owner = (
                f"browser:{token}" if token else f"session:{getattr(request, 'session_hash', '')}"
            )
        return f"{owner}/{self.context.scope}" if self.context.scope else owner


# --- helpers ---------------------------------------------------------------------------------


def _batch_status(queue: RunQueue) -> st.Status:
    jobs = queue.jobs
    if len(jobs) == 1 and jobs[0].status is not None:
        return jobs[0].status  # one run: its own status (cold start, progress, time, seed)
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


def _caption(run: RunRecord) -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(run.created))
    return f"{when} · {run.status}"


def _run_status(run: RunRecord) -> str:
    state = {"done": "done", "failed": "failed", "cancelled": "cancelled"}.get(
        run.status, "running"
    )
    parts = [run.status, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run.created))]
    if run.finished and run.started:
        parts.append(f"{run.finished - run.started:.1f} s")
    if run.prompt_id:
        parts.append(f"prompt {run.prompt_id}")
    parts += [f"seed {s}" for s in run.seeds.values()]
    parts.append(f"{run.protocol} · {run.endpoint} · {run.workflow_name}")
    if run.error:
        parts.append(run.error)
    return st.Status(state, " · ".join(parts)).html()  # type: ignore[arg-type]


def _note(problem: str) -> str:
    return f'<div class="vc-status vc-warning">{html.escape(problem)}</div>' if problem else ""


def _placeholder(directory: Path, state: str) -> Path:
    """A plain tile for a run without an image (failed, cancelled, audio or text only)."""
    colors = {"failed": (190, 60, 60), "cancelled": (150, 150, 150), "running": (90, 110, 200)}
    path = directory / f"{state if state in colors else 'other'}.png"
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        PILImage.new("RGB", (96, 96), colors.get(state, (120, 160, 120))).save(path)
    return path


def _picked(event: gr.SelectData) -> str | None:
    value = event.value
    if isinstance(value, dict):
        item = value.get("image") or value.get("video") or value
        return item.get("path") if isinstance(item, dict) else None
    return None


def _row(event: gr.SelectData) -> int | None:
    index = event.index
    return int(index[0]) if isinstance(index, list | tuple) and index else None
