"""The web page: a form generated from the workflow, Run/Cancel, live logs, results, API snippets.

`build_page` lays the page out, then wires it. Events take and return dicts keyed by component
(Gradio's set-of-inputs form), so nothing depends on positions. Every run goes through the
visitor's queue (ui/queue_view.py); with history, runs are also kept (ui/history_browser.py).
"""

from __future__ import annotations

import asyncio
import html
import json
import shutil
import tempfile
import zipfile
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Any

import gradio as gr

from ..errors import WorkflowError
from ..fields import Field
from ..outputs import SavedOutput
from ..preflight import Preflight
from . import snippets
from . import status as st
from .history import HistoryContext, Recorder
from .history_browser import HistoryBrowser
from .kinds import FieldWidget, Media, field_widget
from .note_markdown import note_markdown
from .queue_view import FormRun, Keeping, Owner, QueueControls, QueueView
from .runner import Endpoint, Runner
from .values import build_params, missing_upload, validate
from .visitor import Visitors, owner_key, tab_key

AUDIO_PLAYERS = 4
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
    `--concurrency`, bounding SSE runs across every visitor's queue) and, with history, who
    each visitor is."""

    limiter: asyncio.Semaphore
    visitors: Visitors | None = None


def build_page(
    fields: Sequence[Field],
    runner: Runner,
    *,
    title: str,
    shared: Shared,
    default_files: dict[str, Path] | None = None,
    history: HistoryContext | None = None,
    preflight: Preflight | None = None,
    required_uploads: frozenset[str] = frozenset(),
) -> gr.Blocks:
    """The whole app. `default_files` maps media fields to the workflow's own files, if known;
    with `history` (and `shared.visitors`), runs are queued in batches and kept. `preflight`:
    what the server lacks (listed at load; Run refuses while a node or model is missing);
    `required_uploads`: the media fields whose workflow file the endpoint has nowhere (Run
    names them while empty)."""
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
                form = Form(_form_widgets(fields, default_files or {}))
                count = QueueControls.build_count() if visitors is not None else None
            with gr.Column(scale=7, min_width=340):
                results = Results.build(
                    _ready_status(endpoint),
                    (lambda: QueueControls.build(count)) if count is not None else None,
                )
        browser = None
        if history is not None and visitors is not None:
            browser = HistoryBrowser(history, visitors.identity(), form.widgets)
            browser.build()
        run_dir = gr.State(None, delete_callback=_remove_dir)

        queue = QueueView(
            runner, shared.limiter, widgets=form.widgets, results=results, run=run,
            cancel=cancel, controls=results.queue,
            keeping=_keeping(browser, endpoint) if browser is not None else None,
        )  # fmt: skip
        handler = RunHandler(
            runner=runner, form=form, results=results, queue=queue, run_dir=run_dir,
            owner_of=browser.owner if browser is not None else owner_key, browser=browser,
            refusal=preflight.refusal() if preflight else None, required=required_uploads,
        )  # fmt: skip
        trigger_mode = "multiple" if browser is not None else "once"
        pressed = run.click(  # at once, with no inputs: the whole form takes a while to send
            handler.pressed, outputs=[results.status, run], queue=False, show_progress="hidden",
            api_visibility="private", js=SAY_STARTING, trigger_mode=trigger_mode,
        )  # fmt: skip
        painted = pressed.then(None, js=NEXT_FRAME)  # shown before the form is gathered
        run_event = painted.then(
            handler.start, inputs=handler.inputs, outputs=handler.outputs, concurrency_id="run",
            show_progress="hidden", api_name="run", trigger_mode=trigger_mode,
        )  # fmt: skip
        run_event.then(None, js=SHOW_RESULTS_ON_PHONES)
        run_event.failure(  # the form could not be read: Run must not stay off
            handler.failed, outputs=[results.status, run, cancel], queue=False,
            show_progress="hidden", api_visibility="private",
        )  # fmt: skip
        page.load(None, js=upload_guard(form.widgets))
        cancel.click(
            handler.cancelled, outputs=[results.status, run, cancel], cancels=[run_event],
            queue=False, api_visibility="private",
        )  # fmt: skip
        reset.click(form.reset, outputs=form.components, api_visibility="private")
        if browser is not None:
            browser.mount(page, form.components, results.gallery)
            queue.mount()
    return page


def _keeping(browser: HistoryBrowser, endpoint: Endpoint) -> Keeping:
    """Runs recorded in the browser's store, its listing shown again when results arrive."""
    return Keeping(
        recorder=lambda owner: Recorder(browser.context, endpoint, owner),
        listing=lambda owner: browser.listing(owner, 0),
    )


# --- layout ----------------------------------------------------------------------------------


@dataclass
class Form:
    """The form's widgets, in field order."""

    widgets: list[FieldWidget]

    @property
    def components(self) -> list[Component]:
        """Every component that holds a form value: fields, then the seeds' modes."""
        return [w.component for w in self.widgets] + [w.mode for w in self.widgets if w.mode]

    def reset(self) -> dict[Component, Any]:
        return {c: value for w in self.widgets for c, value in w.reset().items()}


def _form_widgets(fields: Sequence[Field], default_files: dict[str, Path]) -> list[FieldWidget]:
    """One group per section (a node, or a group of the graph; its title, then its notes),
    basic fields first, then an 'Advanced' accordion with the rest."""
    taken: set[str] = set()
    widgets: list[FieldWidget] = []
    basic = [f for f in fields if not f.advanced]
    advanced = [f for f in fields if f.advanced]
    for section, chosen in (("basic", basic), ("advanced", advanced)):
        if not chosen:
            continue
        container = (
            gr.Accordion("Advanced", open=False, elem_id="advanced")
            if section == "advanced"
            else gr.Column()
        )
        with container:
            for _, group in groupby(chosen, key=lambda f: f.group or f.node_id):
                group = list(group)
                with gr.Group(elem_classes=["vc-node"]):
                    gr.HTML(f'<div class="vc-node-title">{html.escape(group[0].node_title)}</div>')
                    for note in (f.section_help for f in group if f.section_help):
                        gr.Markdown(
                            note_markdown(note), elem_classes=["vc-section-help"],
                            line_breaks=True, padding=True,
                        )  # fmt: skip
                    widgets += [field_widget(f, default_files.get(f.key), taken) for f in group]
    order = {f.key: i for i, f in enumerate(fields)}
    return sorted(widgets, key=lambda w: order[w.field.key])


@dataclass
class Results:
    """The right-hand column: status, outputs, logs and the API accordion."""

    status: gr.HTML
    gallery: gr.Gallery
    audio: list[gr.Audio]
    text: gr.Textbox
    files: gr.File
    logs: gr.Textbox
    api_params: gr.Code
    api_python: gr.Code
    api_curl: gr.Code
    mode: gr.Radio
    queue: QueueControls | None = None

    @classmethod
    def build(cls, ready: st.Status, queue: Callable[[], QueueControls] | None = None) -> Results:
        """Status first, then the results; `queue` lays out the run queue after the downloads
        (so on a phone the status, then the results, come right after the form)."""
        status = gr.HTML(ready.html(), elem_id="status")
        gallery = gr.Gallery(
            label="Results", elem_id="gallery", columns=2, height=440, object_fit="contain",
            buttons=["download", "fullscreen"], interactive=False,
        )  # fmt: skip
        audio = [
            gr.Audio(label=f"Audio {i + 1}", visible=False, interactive=False, elem_id=f"audio-{i}")
            for i in range(AUDIO_PLAYERS)
        ]
        text = gr.Textbox(
            label="Text output", visible=False, lines=4, elem_id="text-output", interactive=False
        )
        files = gr.File(label="Download", file_count="multiple", elem_id="files", interactive=False)
        controls = queue() if queue else None
        logs = gr.Textbox(
            label="Logs", lines=14, max_lines=14, autoscroll=True, elem_id="logs",
            interactive=False, buttons=["copy"],
        )  # fmt: skip
        with gr.Accordion("API", open=False, elem_id="api"):
            api_params = gr.Code(
                label="Params of the last run", language="json", elem_id="api-params"
            )
            api_python = gr.Code(label="Python", language="python", elem_id="api-python")
            api_curl = gr.Code(label="cURL", language="shell", elem_id="api-curl")
            mode = gr.Radio(
                [("Live logs", "stream"), ("Wait for the result", "plain")], value="stream",
                label="While a run goes", elem_id="mode",
                info="For endpoints or proxies that cannot stream: one plain request (infer) "
                "instead of a stream of log lines (infer_with_logs).",
            )  # fmt: skip
        return cls(
            status=status, gallery=gallery, audio=audio, text=text, files=files, logs=logs,
            api_params=api_params, api_python=api_python, api_curl=api_curl, mode=mode,
            queue=controls,
        )  # fmt: skip

    @property
    def components(self) -> list[Component]:
        return [
            self.status, self.gallery, *self.audio, self.text, self.files, self.logs,
            self.api_params, self.api_python, self.api_curl,
        ]  # fmt: skip

    def show(
        self,
        status: st.Status,
        logs: Sequence[str],
        outputs: Sequence[SavedOutput] | None,
        directory: Path,
    ) -> dict[Component, Any]:
        """The status and logs, and the outputs when given (None: leave them as they are)."""
        shown: dict[Component, Any] = {self.status: status.html(), self.logs: "\n".join(logs)}
        if outputs is None:
            return shown
        shown[self.gallery] = [
            (str(o.path), o.path.name) for o in outputs if o.kind in ("image", "video")
        ]
        sounds = [o for o in outputs if o.kind == "audio"][:AUDIO_PLAYERS]
        for i, player in enumerate(self.audio):
            shown[player] = (
                gr.update(value=str(sounds[i].path), label=sounds[i].path.name, visible=True)
                if i < len(sounds)
                else gr.update(value=None, visible=False)
            )
        texts = [o for o in outputs if o.kind == "text"]
        text = "\n\n".join(f"{o.path.name}:\n{_head(o.path)}" for o in texts)
        shown[self.text] = gr.update(value=text, visible=bool(texts))
        downloads = [str(o.path) for o in outputs]
        if len(outputs) > 1:
            downloads.append(str(_zip(outputs, directory)))
        shown[self.files] = downloads
        return shown

    def code(
        self, endpoint: Endpoint, values: dict[str, Any], files: dict[str, Path], stream: bool
    ) -> dict[Component, Any]:
        views = snippets.code_views(endpoint, values, files, stream=stream)
        return dict(zip((self.api_params, self.api_python, self.api_curl), views, strict=True))


# --- wiring ----------------------------------------------------------------------------------


@dataclass
class RunHandler:
    """What Run and Cancel do, reading and writing components by name: check the form, then
    hand the run to the queue."""

    runner: Runner
    form: Form
    results: Results
    queue: QueueView
    run_dir: gr.State
    owner_of: Owner
    browser: HistoryBrowser | None = None
    refusal: str | None = None  # why any run would fail (preflight), or None
    required: frozenset[str] = frozenset()  # media fields that must hold a file

    @property
    def inputs(self) -> set[Component]:
        kept = {self.browser.identity.token} if self.browser else set()
        count = {self.results.queue.count} if self.results.queue else set()
        return {*self.form.components, self.results.mode, self.run_dir, *kept, *count}

    @property
    def outputs(self) -> list[Component]:
        fields = [w.component for w in self.form.widgets]  # seeds used, and refusal marks
        listing = self.browser.listing_components if self.browser else []
        buttons = [self.queue.run_button, self.queue.cancel_button]
        return [
            *self.results.components, *buttons, self.run_dir, *fields, *self.queue.outputs,
            *listing,
        ]  # fmt: skip

    def pressed(self, request: gr.Request) -> dict[Component, Any]:
        """Run's first feedback, before the form is sent: the refusal known at load, or
        "Starting…" (Run off, unless more runs may be queued)."""
        if self.refusal:
            return {self.results.status: st.Status("failed", self.refusal).html()}
        busy = self.queue.busy(tab_key(request))
        text = "Adding to the queue…" if busy else "Starting…"
        return {
            self.results.status: st.Status("waiting", text).html(),
            self.queue.run_button: self.queue.buttons(busy=True)[self.queue.run_button],
        }

    async def start(
        self, values: dict[Component, Any], request: gr.Request
    ) -> AsyncIterator[dict[Component, Any]]:
        """Refuse invalid values (status at the top, marks on the fields, nothing sent), or run."""
        tab = tab_key(request)
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
        if not self.queue.busy(tab):  # not a queued run's folder
            _remove_dir(values[self.run_dir])
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
        async for shown in self.queue.run(run):
            yield {**marks, **shown, **code, self.run_dir: str(directory)}

    def failed(self, request: gr.Request) -> dict[Component, Any]:
        text = "Not sent: the form could not be read; check the uploads and press Run again."
        status = {self.results.status: st.Status("failed", text).html()}
        return {**status, **self.queue.buttons(self.queue.busy(tab_key(request)))}

    def cancelled(self) -> dict[Component, Any]:
        return {self.results.status: st.cancelled().html(), **self.queue.buttons(busy=False)}


# --- helpers ---------------------------------------------------------------------------------


def _head(path: Path, limit: int = 100_000) -> str:
    """The start of a text output (the whole file stays downloadable)."""
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    text = data[:limit].decode("utf-8", "replace")
    return text + "\n… (truncated; download the file for the rest)" if len(data) > limit else text


def _zip(outputs: Sequence[SavedOutput], directory: Path) -> Path:
    """All outputs in one archive, beside (not among) the output files."""
    archive = directory / "all_outputs.zip"
    taken: set[str] = set()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for output in outputs:
            name = output.path.name  # a batch's runs may give the same names: prefix the run's
            name = f"{output.path.parent.name}_{name}" if name in taken else name
            taken.add(name)
            zf.write(output.path, arcname=name)
    return archive


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
}"""  # runs once in the browser: an unreadable image upload is named at once in #status


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


def _remove_dir(directory: str | None) -> None:
    if directory and Path(directory).parent == OUTPUT_ROOT:
        shutil.rmtree(directory, ignore_errors=True)
