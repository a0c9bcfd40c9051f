"""The web page: the form (ui/form.py), Run / Cancel / Reset, and the results column
(ui/results.py): `build_page` lays it out, then wires it. Events take and return dicts keyed
by component (Gradio's set-of-inputs form), so nothing depends on positions. Every run goes through the
visitor's queue (ui/queue_view.py); with history, runs are also kept (ui/history_browser.py).
"""

from __future__ import annotations

import asyncio
import html
import json
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr

from ..errors import WorkflowError
from ..fields import Field
from ..output_pick import OutputPick
from ..preflight import Preflight
from . import snippets
from . import status as st
from .form import Form, form_widgets
from .form_keeper import FormKeeper
from .history import HistoryContext, Recorder
from .history_browser import HistoryBrowser
from .kinds import FieldWidget, Media
from .queue_view import ORPHAN_TIMEOUT, FormRun, Keeping, Owner, QueueControls, QueueView
from .results import Results
from .runner import Endpoint, Runner
from .values import build_params, missing_upload, validate
from .visitor import TAB_ID_JS, Visitors, owner_key, tab_key

# Past this, Gradio builds the page too slowly for its own start-up check, which waits 3 s for
# it (4,000 fields: 2 to 5 s on a busy 2-core machine; 3,000 start): refused at start instead,
# saying what to do (bench/bench_big_form.py).
MAX_FORM_FIELDS = 3000
OUTPUT_ROOT = Path(tempfile.gettempdir()) / "viewcomfy-ui-runs"
CSS = Path(__file__).with_name("style.css").read_text(encoding="utf-8")
THEME = gr.themes.Soft(primary_hue="indigo", secondary_hue="violet", neutral_hue="slate")
LAUNCH_STYLE = {"theme": THEME, "css": CSS}  # Gradio 6 takes these in launch()
Component = gr.components.Component
PHONE = "window.matchMedia('(max-width: 720px)').matches"
SHOW_STATUS_ON_PHONES = f"""(...values) => {{
  if ({PHONE}) document.getElementById('status')?.scrollIntoView({{behavior: 'smooth'}});
  return values;
}}"""  # runs in the browser before Run's function, and passes the inputs through
SAY_STARTING = f"""(...values) => {{
  const shown = [...document.querySelectorAll('#status')].find(s => s.offsetParent !== null);
  const line = shown?.querySelector('.vc-status');
  if (line && !['waiting', 'running'].includes(line.dataset.state)) {{
    line.className = 'vc-status vc-waiting';
    line.dataset.state = 'waiting';
    line.querySelector('.vc-bar span')?.style.setProperty('width', '0%');
    const text = line.querySelector('.vc-text');
    if (text) text.textContent = 'Starting…';
  }}
  return ({SHOW_STATUS_ON_PHONES})(...values);
}}"""  # Run's feedback at once, in the browser; the server's answer (`pressed`) then replaces it
NEXT_FRAME = "() => new Promise(resolve => requestAnimationFrame(() => setTimeout(resolve)))"
SHOW_RESULTS_ON_PHONES = f"""() => {{
  const done = document.querySelector('#status [data-state="done"]');
  if (done && {PHONE}) document.getElementById('gallery')?.scrollIntoView({{behavior: 'smooth'}});
}}"""


@dataclass(frozen=True)
class Shared:
    """What every form of the app shares, made once by ui/main.py: the run slots (the app's
    `--concurrency`, bounding SSE runs across every visitor's queue), with history, who
    each visitor is, and how long runs go on with no page watching (`--orphan-timeout`)."""

    limiter: asyncio.Semaphore
    visitors: Visitors | None = None
    orphan_timeout: float = ORPHAN_TIMEOUT


def build_page(
    fields: Sequence[Field],
    runner: Runner,
    *,
    title: str,
    shared: Shared,
    default_files: dict[str, Path] | None = None,
    history: HistoryContext | None = None,
    outputs: OutputPick | None = None,
    description: str = "",
    preflight: Preflight | None = None,
    required_uploads: frozenset[str] = frozenset(),
) -> gr.Blocks:
    """The whole app. `default_files` maps media fields to the workflow's own files, if known;
    with `history` (and `shared.visitors`), runs are queued in batches and kept; `outputs`
    tells results from by-products (default: by their names alone); `description` (a curated
    workflow's) shows under the title. `preflight`: what the server lacks (listed at load; Run
    refuses while a node or model is missing); `required_uploads`: the media fields whose
    workflow file the endpoint has nowhere (Run names them while empty)."""
    if len(fields) > MAX_FORM_FIELDS:
        raise WorkflowError(
            f"{title}: the form would have {len(fields)} fields, more than the {MAX_FORM_FIELDS} "
            "a page can start with; choose the ones visitors need: in ComfyUI title their nodes "
            "'VC_BASIC ...' (or 'VC_ADV ...') and export again, or give a curated view_comfy.json"
        )
    endpoint = runner.endpoint  # the runner's owner closes it (App.close)
    visitors = shared.visitors if history is not None else None
    with gr.Blocks(title=title, delete_cache=(3600, 7200), fill_width=True) as page:
        gr.HTML(f'<h1 class="vc-title">{html.escape(title)}</h1>')
        if description:
            gr.HTML(f'<p class="vc-description">{html.escape(description)}</p>')
        gr.HTML(f'<div class="vc-banner">{html.escape(endpoint.description)}</div>')
        if preflight is not None and preflight.lines():
            gr.HTML(problems_html(preflight), elem_id="problems")
        with gr.Row(equal_height=False):
            with gr.Column(scale=5, min_width=340):
                with gr.Row(elem_id="actions"):
                    run = gr.Button(
                        "Run", variant="primary", elem_id="run",
                        interactive=not endpoint.missing_keys,
                    )  # fmt: skip
                    cancel = gr.Button(
                        "Cancel", variant="stop", elem_id="cancel", interactive=False
                    )
                    reset = gr.Button("Reset", variant="secondary", elem_id="reset", min_width=80)
                form = Form(form_widgets(fields, default_files or {}))
                count = QueueControls.build_count() if visitors is not None else None
            with gr.Column(scale=7, min_width=340):
                results = Results.build(
                    _ready_status(endpoint),
                    (lambda: QueueControls.build(count)) if count is not None else None,
                    api=snippets.code_views(endpoint, snippets.form_defaults(fields), {}),
                    pick=outputs,
                )
        browser = None
        if history is not None and visitors is not None:
            browser = HistoryBrowser(history, visitors.identity(), form.widgets)
            browser.build()
        tab_id = gr.State(None)  # this browser tab's id (`TAB_ID_JS`), set on load
        queue = QueueView(
            runner, shared.limiter, widgets=form.widgets, results=results, run=run,
            cancel=cancel, controls=results.queue,
            keeping=_keeping(browser, endpoint) if browser is not None else None,
            orphan_timeout=shared.orphan_timeout,
        )  # fmt: skip
        handler = RunHandler(
            runner=runner, form=form, results=results, queue=queue, tab_id=tab_id,
            owner_of=browser.owner if browser is not None else owner_key, browser=browser,
            refusal=preflight.refusal() if preflight else None, required=required_uploads,
        )  # fmt: skip
        trigger_mode = "multiple" if browser is not None else "once"
        pressed = run.click(  # at once, with only the tab's keys: the whole form takes a while
            handler.pressed, inputs=handler.keys, outputs=[results.status, run], queue=False,
            show_progress="hidden", api_visibility="private", js=SAY_STARTING,
            trigger_mode=trigger_mode,
        )  # fmt: skip
        painted = pressed.then(None, js=NEXT_FRAME)  # shown before the form is gathered
        run_event = painted.then(
            handler.start, inputs=handler.inputs, outputs=handler.outputs, concurrency_id="run",
            show_progress="hidden", api_name="run", trigger_mode=trigger_mode,
        )  # fmt: skip
        run_event.then(None, js=SHOW_RESULTS_ON_PHONES)
        results.mount(run_event)
        run_event.failure(  # the form could not be read: Run must not stay off
            handler.failed, inputs=handler.keys, outputs=[results.status, run, cancel], queue=False,
            show_progress="hidden", api_visibility="private",
        )  # fmt: skip
        page.load(None, js=upload_guard(form.widgets))
        cancel.click(
            handler.cancelled, inputs=handler.keys, outputs=[results.status, run, cancel],
            cancels=[run_event], queue=False, api_visibility="private",
        )  # fmt: skip
        reset.click(form.reset, outputs=form.components, api_visibility="private")
        if browser is not None:
            browser.mount(page, form.components, results.gallery)
            queue.mount(tab_id, browser.identity.token)
        handler.mount_reattach(page)
        FormKeeper(form.widgets, history.scope if history else "").mount(page)
    return page


def _keeping(browser: HistoryBrowser, endpoint: Endpoint) -> Keeping:
    """Runs recorded in the browser's store, its listing shown again when results arrive."""
    return Keeping(
        recorder=lambda owner: Recorder(browser.context, endpoint, owner),
        listing=lambda owner: browser.listing(owner, 0),
    )


# --- wiring ----------------------------------------------------------------------------------


@dataclass
class RunHandler:
    """What Run and Cancel do, reading and writing components by name: check the form, then
    hand the run to the queue."""

    runner: Runner
    form: Form
    results: Results
    queue: QueueView
    tab_id: gr.State
    owner_of: Owner
    browser: HistoryBrowser | None = None
    refusal: str | None = None  # why any run would fail (preflight), or None
    required: frozenset[str] = frozenset()  # media fields that must hold a file
    _cancelled: set[str] = field(default_factory=set, init=False)  # tabs: Cancel since Run

    @property
    def keys(self) -> set[Component]:
        """What names the tab's queue: the tab's id and the visitor's token."""
        return {self.tab_id, *([self.browser.identity.token] if self.browser else [])}

    @property
    def inputs(self) -> set[Component]:
        count = {self.results.queue.count} if self.results.queue else set()
        return {*self.form.components, self.results.mode, *self.keys, *count}

    @property
    def outputs(self) -> list[Component]:
        fields = [w.component for w in self.form.widgets]  # seeds used, and refusal marks
        listing = self.browser.listing_components if self.browser else []
        buttons = [self.queue.run_button, self.queue.cancel_button]
        return [
            *self.results.components, *buttons, *fields, *self.queue.outputs, *listing,
        ]  # fmt: skip

    def pressed(self, values: dict[Component, Any], request: gr.Request) -> dict[Component, Any]:
        """Run's first feedback, before the form is sent: the refusal known at load, or
        "Starting…" (Run off, unless more runs may be queued)."""
        if self.refusal:
            return {self.results.status: st.Status("failed", self.refusal).html()}
        tab = self._tab(values, request)
        self._cancelled.discard(tab)
        busy = self.queue.busy(tab)
        text = "Adding to the queue…" if busy else "Starting…"
        return {
            self.results.status: st.Status("waiting", text).html(),
            self.queue.run_button: self.queue.buttons(busy=True)[self.queue.run_button],
        }

    async def start(
        self, values: dict[Component, Any], request: gr.Request
    ) -> AsyncIterator[dict[Component, Any]]:
        """Refuse invalid values (status at the top, marks on the fields, nothing sent), or run."""
        tab = self._tab(values, request)
        buttons = self.queue.buttons(self.queue.busy(tab))
        if self.refusal:
            yield {self.results.status: st.Status("failed", self.refusal).html(), **buttons}
            return
        widgets = self.form.widgets
        errors = {w.component: validate(w.field, values[w.component]) for w in widgets}
        for w in widgets:
            errors[w.component] = errors[w.component] or missing_upload(
                w.field, values[w.component], required=w.field.key in self.required
            )
        marks = {w.component: w.mark(errors[w.component]) for w in widgets}
        refused = [error for error in errors.values() if error]
        if refused:
            status = st.Status("failed", "Not sent. Fix the marked fields: " + "; ".join(refused))
            yield {self.results.status: status.html(), **marks, **buttons}
            return
        token = values[self.browser.identity.token] if self.browser else None
        owner = self.owner_of(token, request)
        directory = Path(tempfile.mkdtemp(prefix="run-", dir=_output_root()))
        form = {
            w.field.key: w.kind.upload(values[w.component], w.default_file, directory)
            if isinstance(w.kind, Media)
            else values[w.component]
            for w in widgets
        }
        modes = {w.field.key: values[w.mode] for w in widgets if w.mode}
        params = build_params([w.field for w in widgets], form, modes)
        streaming = values[self.results.mode] != "plain"
        code = self.results.code(self.runner.endpoint, params.values, params.files, streaming)
        count = self.results.queue.count if self.results.queue else None
        run = FormRun(
            owner=owner, tab=tab, params=params, modes=modes, directory=directory, stream=streaming,
            count=int(values[count] or 1) if count else 1,
        )  # fmt: skip
        before = _input_image(widgets, values)
        async for shown in self.queue.run(run):
            compared = self.results.compared(before, shown)
            yield {**marks, **shown, **compared, **code}

    def failed(self, values: dict[Component, Any], request: gr.Request) -> dict[Component, Any]:
        """Run's event ended in an error: the form could not be read, or Cancel stopped it
        (Gradio reports a cancelled event as failed, sometimes after Cancel has answered)."""
        tab = self._tab(values, request)
        if tab in self._cancelled:
            status = st.cancelled()
        else:
            text = "Not sent: the form could not be read; check the uploads and press Run again."
            status = st.Status("failed", text)
        return {self.results.status: status.html(), **self.queue.buttons(self.queue.busy(tab))}

    async def cancelled(
        self, values: dict[Component, Any], request: gr.Request
    ) -> dict[Component, Any]:
        """Cancel stops the tab's runs (the only way, besides no page for --orphan-timeout)."""
        tab = self._tab(values, request)
        self._cancelled.add(tab)
        await self.queue.cancel(tab)
        return {self.results.status: st.cancelled().html(), **self.queue.buttons(busy=False)}

    def mount_reattach(self, page: gr.Blocks) -> None:
        """On load: the tab's id from the browser, and its queue, if it has one (a reloaded
        page), streamed onto the page: status, logs and results so far, then on."""
        carrier = gr.Textbox(visible=False)  # `TAB_ID_JS` puts the tab's id here
        owner = self.browser.identity.owner if self.browser else gr.State(None)
        page.load(
            self.reattach, inputs=[carrier, owner], outputs=[self.tab_id, *self.outputs],
            js=TAB_ID_JS, show_progress="hidden", concurrency_limit=None,
            api_visibility="private",
        )  # fmt: skip

    async def reattach(
        self, tab_id: str | None, token: str | None, request: gr.Request
    ) -> AsyncIterator[dict[Component, Any]]:
        yield {self.tab_id: tab_id}
        async for shown in self.queue.watch(tab_key(tab_id, token, request)):
            yield shown

    def _tab(self, values: dict[Component, Any], request: gr.Request) -> str:
        token = values[self.browser.identity.token] if self.browser else None
        return tab_key(values[self.tab_id], token, request)


# --- helpers ---------------------------------------------------------------------------------


def _input_image(widgets: Sequence[FieldWidget], values: dict[Component, Any]) -> Any:
    """The form's first input image (a path, or the image under a painted mask), if any."""
    for w in widgets:
        value = values[w.component]
        if w.field.kind == "image" and isinstance(value, str) and value:
            return value
        background = value.get("background") if isinstance(value, dict) else None
        if w.field.kind == "image-mask" and background is not None:
            return background
    return None


UPLOAD_GUARD = """() => {
  const labels = LABELS;
  const visible = () =>
    [...document.querySelectorAll('#status')].find(s => s.offsetParent !== null);
  const show = (label, name) => {  // the status line changed in place: Gradio replaces it later
    const status = visible();
    const line = status?.querySelector('.vc-status');
    const text = line?.querySelector('.vc-text');
    if (!text) return;
    line.className = 'vc-status vc-failed';
    line.dataset.state = 'failed';
    line.querySelector('.vc-bar')?.remove();
    text.textContent = `${label}: '${name}' is not a readable image; upload a PNG, JPEG or WebP`;
    if (PHONE) status.scrollIntoView({behavior: 'smooth'});
  };
  const check = async (target, files) => {
    const field = target instanceof Element ? target.closest('[id^="field-"]') : null;
    if (!field || !(field.id in labels)) return;
    for (const file of files || []) {
      if (/[.]tiff?$/i.test(file.name)) continue;  // the browser cannot read TIFF; the server can
      try { (await createImageBitmap(file)).close(); } catch { show(labels[field.id], file.name); }
    }
  };
  document.addEventListener('change', e => check(e.target, e.target.files), true);
  document.addEventListener('drop', e => check(e.target, e.dataTransfer?.files), true);
  document.documentElement.dataset.vcUploadGuard = 'on';
}"""  # runs once in the browser (on load): an unreadable image upload is named at once in #status


def upload_guard(widgets: Sequence[FieldWidget]) -> str:
    """`UPLOAD_GUARD` for these widgets' image fields (element id -> label, as JSON)."""
    labels = {
        w.component.elem_id: w.field.label
        for w in widgets
        if w.field.kind in ("image", "image-mask")
    }
    return UPLOAD_GUARD.replace("PHONE", PHONE).replace("LABELS", json.dumps(labels), 1)


def problems_html(preflight: Preflight) -> str:
    """The `#problems` panel: what the server lacks, one item a line (safe text)."""
    lines = preflight.lines()
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    head = (
        "This server cannot run the workflow as it is" if preflight.refusal() else "Before you run"
    )
    return (
        '<div class="vc-problems" role="alert" style="overflow-wrap:anywhere">'
        f"<strong>{head} ({len(lines)} problem{'s' if len(lines) > 1 else ''}):</strong>"
        f'<ul style="max-height:16em;overflow-y:auto;margin:0.3em 0">{items}</ul></div>'
    )


def _ready_status(endpoint: Endpoint) -> st.Status:
    if endpoint.missing_keys:
        return st.Status(
            "warning",
            "Set VIEWCOMFY_CLIENT_ID and VIEWCOMFY_CLIENT_SECRET (environment, Space secrets or a "
            ".env file next to app.py) and restart the app to run this workflow.",
        )
    return st.Status("ready", "Ready.")


def _output_root() -> Path:
    OUTPUT_ROOT.mkdir(parents=True, exist_ok=True)
    return OUTPUT_ROOT
