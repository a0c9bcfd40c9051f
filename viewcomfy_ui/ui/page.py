"""The web page: a form generated from the workflow, Run/Cancel, live logs, results, API snippets.

`build_page` lays the page out, then wires it. Events take and return dicts keyed by component
(Gradio's set-of-inputs form), so nothing depends on positions. Every run goes through the
visitor's queue (ui/queue_view.py); with history, runs are also kept (ui/history_browser.py).
"""

from __future__ import annotations

import asyncio
import base64
import html
import json
import tempfile
import zipfile
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Any

import gradio as gr

from ..arrange import authored, pairs, section_title
from ..errors import WorkflowError
from ..fields import Field
from ..media import extension_kind
from ..models import Preview
from ..output_pick import OutputPick
from ..outputs import SavedOutput
from ..preflight import Preflight
from . import snippets
from . import status as st
from .form_keeper import FormKeeper
from .history import HistoryContext, Recorder
from .history_browser import HistoryBrowser
from .kinds import FieldWidget, Media, field_widget
from .note_markdown import note_markdown
from .outcome import Done, Outcome
from .queue_view import ORPHAN_TIMEOUT, FormRun, Keeping, Owner, QueueControls, QueueView
from .runner import Endpoint, Runner, RunUpdate
from .values import build_params, missing_upload, validate
from .visitor import TAB_ID_JS, Visitors, owner_key, tab_key

AUDIO_PLAYERS = 4
MODEL_VIEWERS = 2  # 3D viewers (each further 3D output is in the downloads)
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
FILTER_ADVANCED = """(query) => {
  const words = (query || '').toLowerCase().split(/\\s+/).filter(Boolean);
  const root = document.getElementById('advanced');
  if (!root) return;
  const text = (el) => el.dataset.vcSearch ??= (
    (el.querySelector('[data-testid="block-info"], label, .label-wrap')?.textContent || '') + ' '
    + el.id.slice(6).replaceAll('_', ' ') + ' ' + el.id.slice(6)).toLowerCase();
  for (const group of root.querySelectorAll('.vc-node')) {
    let shown = 0;
    for (const el of group.querySelectorAll('[id^="field-"]:not([id$="-mode"])')) {
      const hit = words.every((w) => text(el).includes(w));
      const mode = document.getElementById(el.id + '-mode');
      for (const part of [el, mode]) if (part) part.style.display = hit ? '' : 'none';
      shown += hit;
    }
    group.style.display = shown ? '' : 'none';
  }
}"""  # the Advanced search: each word in the field's label or key; empty groups hidden
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
                form = Form(_form_widgets(fields, default_files or {}))
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
    """One group per section (a node, several nodes of one kind, or a group of the graph; its
    heading, then its notes; a lone field is named by its own label instead), basic fields
    first, then an 'Advanced' accordion (with a search box) with the rest."""
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
            if section == "advanced":
                _advanced_search()
            for _, group in groupby(chosen, key=lambda f: f.group or f.node_id):
                widgets += _section(list(group), default_files, taken)
    order = {f.key: i for i, f in enumerate(fields)}
    return sorted(widgets, key=lambda w: order[w.field.key])


def _section(
    group: list[Field], default_files: dict[str, Path], taken: set[str]
) -> list[FieldWidget]:
    """One section's group: heading, notes, then its fields, small ones two to a row. A lone
    field keeps its own label, under its section's title only when a person gave that title
    (a ComfyUI group, a curated file's) and it says something the label does not."""
    lone = len(group) == 1
    mixed = lone or len({f.node_title for f in group}) > 1  # labels name their own node
    title = section_title(group)
    made = []
    with gr.Group(elem_classes=["vc-node"]):
        if not lone or (authored(group) and title.strip().lower() != group[0].label.lower()):
            gr.HTML(f'<div class="vc-node-title">{html.escape(title)}</div>')
        for note in (f.section_help for f in group if f.section_help):
            gr.Markdown(
                note_markdown(note), elem_classes=["vc-section-help"],
                line_breaks=True, padding=True,
            )  # fmt: skip
        for row in pairs(group):
            if len(row) == 1:
                made.append(field_widget(row[0], default_files.get(row[0].key), taken, mixed))
                continue
            wide = any(f.kind == "textarea" for f in row)  # stacked on a phone
            with gr.Row(elem_classes=["vc-pair", "vc-pair-wide"] if wide else ["vc-pair"]):
                made += [field_widget(f, default_files.get(f.key), taken, mixed) for f in row]
    return made


def _advanced_search() -> None:
    """A box that hides the Advanced fields whose label and key do not hold what is typed
    (in the browser: instant on hundreds of fields)."""
    box = gr.Textbox(
        placeholder="Search the advanced settings", show_label=False, elem_id="advanced-search",
        container=False, lines=1, max_lines=1,
    )  # fmt: skip
    box.change(None, inputs=box, js=FILTER_ADVANCED, queue=False, api_visibility="private")


@dataclass
class Results:
    """The right-hand column: status, outputs, logs and the API accordion."""

    status: gr.HTML
    gallery: gr.Gallery
    compare_box: gr.Accordion
    compare: gr.ImageSlider
    before: gr.State  # the compared input (not read back from the slider: Gradio leaks a file)
    models: list[gr.Model3D]
    model_paths: gr.State  # the 3D results, drawn once the run's stream ends (see `mount`)
    audio: list[gr.Audio]
    text: gr.Textbox
    files: gr.File
    others: gr.Accordion
    other_gallery: gr.Gallery
    other_files: gr.File
    logs: gr.Textbox
    api_params: gr.Code
    api_python: gr.Code
    api_curl: gr.Code
    mode: gr.Radio
    queue: QueueControls | None = None
    pick: OutputPick = field(default_factory=OutputPick)
    preview: gr.HTML | None = None

    @classmethod
    def build(
        cls,
        ready: st.Status,
        queue: Callable[[], QueueControls] | None = None,
        api: tuple[str, str, str] = ("", "", ""),
        pick: OutputPick | None = None,
    ) -> Results:
        """Status first, then the results; `queue` lays out the run queue after the downloads
        (so on a phone the status, then the results, come right after the form); `api`: the
        API accordion's params, Python and cURL until the first run. The results (`pick`) show
        in the gallery, 3D viewers, players and text; by-products in a closed "Other outputs";
        every file is downloadable."""
        status = gr.HTML(ready.html(), elem_id="status")
        preview = gr.HTML("", elem_id="preview", visible=False, padding=False)
        gallery = gr.Gallery(
            label="Results", elem_id="gallery", columns=2, height=440, object_fit="contain",
            buttons=["download", "fullscreen"], interactive=False,
        )  # fmt: skip
        with gr.Accordion(
            "Before / after", open=False, visible=False, elem_id="compare-box"
        ) as box:
            compare = gr.ImageSlider(
                label="Input | result", type="filepath", format="png", elem_id="compare",
                interactive=False, max_height=440,
            )  # fmt: skip
        models = [
            gr.Model3D(  # "hidden", not False: one shown from False never draws (Gradio 6.31)
                label=f"3D {i + 1}", visible="hidden", interactive=False, elem_id=f"model3d-{i}"
            )
            for i in range(MODEL_VIEWERS)
        ]
        model_paths = gr.State([])
        audio = [
            gr.Audio(label=f"Audio {i + 1}", visible=False, interactive=False, elem_id=f"audio-{i}")
            for i in range(AUDIO_PLAYERS)
        ]
        text = gr.Textbox(
            label="Text output", visible=False, lines=4, elem_id="text-output", interactive=False
        )
        files = gr.File(label="Download", file_count="multiple", elem_id="files", interactive=False)
        with gr.Accordion(
            "Other outputs", open=False, visible=False, elem_id="other-outputs"
        ) as others:
            other_gallery = gr.Gallery(
                label="Previews and intermediates", elem_id="other-gallery", columns=3, height=300,
                object_fit="contain", buttons=["download", "fullscreen"], interactive=False,
            )  # fmt: skip
            other_files = gr.File(
                label="Other files", file_count="multiple", elem_id="other-files", interactive=False
            )
        controls = queue() if queue else None
        logs = gr.Textbox(
            label="Logs", lines=14, max_lines=14, autoscroll=True, elem_id="logs",
            interactive=False, buttons=["copy"],
        )  # fmt: skip
        with gr.Accordion("API", open=False, elem_id="api"):
            api_params = gr.Code(
                api[0], label="Params (the last run's; before one, the form's)", language="json",
                elem_id="api-params",
            )  # fmt: skip
            api_python = gr.Code(api[1], label="Python", language="python", elem_id="api-python")
            api_curl = gr.Code(api[2], label="cURL", language="shell", elem_id="api-curl")
            mode = gr.Radio(
                [("Live logs", "stream"), ("Wait for the result", "plain")], value="stream",
                label="While a run goes", elem_id="mode",
                info="For endpoints or proxies that cannot stream: one plain request (infer) "
                "instead of a stream of log lines (infer_with_logs).",
            )  # fmt: skip
        before = gr.State(None)
        gallery.select(_pick_after, inputs=[before], outputs=[compare], api_visibility="private")
        return cls(
            status=status, gallery=gallery, compare_box=box, compare=compare, before=before,
            models=models, model_paths=model_paths, audio=audio, text=text, files=files,
            others=others, other_gallery=other_gallery, other_files=other_files, logs=logs,
            api_params=api_params, api_python=api_python, api_curl=api_curl, mode=mode,
            queue=controls, pick=pick or OutputPick(), preview=preview,
        )  # fmt: skip

    @property
    def components(self) -> list[Component]:
        return [
            self.status, self.gallery, *self.audio, self.text, self.files, self.logs,
            self.api_params, self.api_python, self.api_curl, self.compare_box, self.compare,
            self.before, self.model_paths, self.others, self.other_gallery, self.other_files,
            *([self.preview] if self.preview else []),
        ]  # fmt: skip

    def preview_of(self, live: RunUpdate | None, outcome: Outcome | None) -> dict[Component, Any]:
        """`#preview`: the newest frame while a run goes; hidden for a new run and once its
        results come; the last frame kept when it failed or was cancelled."""
        if self.preview is None:
            return {}
        if isinstance(outcome, Done) or (outcome is None and live is None):
            return {self.preview: gr.update(value="", visible=False)}
        if outcome is None and live is not None and live.preview is not None:
            return {self.preview: gr.update(value=_preview_html(live.preview), visible=True)}
        return {}

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
        flags = self.pick.results([o.filename or o.path.name for o in outputs])
        others = [o for o, result in zip(outputs, flags, strict=True) if not result]
        outputs = [o for o, result in zip(outputs, flags, strict=True) if result]
        shown[self.gallery] = [
            (str(o.path), o.path.name) for o in outputs if o.kind in ("image", "video")
        ]
        shown.update(self._by_products(others))
        shown[self.model_paths] = [str(o.path) for o in outputs if o.kind == "model3d"]
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
        everything = [*outputs, *others]
        downloads = [str(o.path) for o in everything]
        if len(everything) > 1:
            downloads.append(str(_zip(everything, directory)))
        shown[self.files] = downloads
        return shown

    def mount(self, run: gr.events.Dependency) -> None:
        """Draw the 3D results once `run`'s stream ends: a Model3D a streaming event updates
        never draws its model (Gradio 6.31), one a plain event updates does."""
        run.then(
            self._drawn, inputs=[self.model_paths], outputs=self.models, queue=False,
            api_visibility="private",
        )  # fmt: skip

    def _drawn(self, paths: list[str]) -> list[Any]:
        return [
            gr.update(value=paths[i], label=Path(paths[i]).name, visible=True)
            if i < len(paths)
            else gr.update(value=None, visible="hidden")
            for i in range(len(self.models))
        ]

    def _by_products(self, others: Sequence[SavedOutput]) -> dict[Component, Any]:
        """'Other outputs': previews and intermediates (shown only when there are some)."""
        visual = [(str(o.path), o.path.name) for o in others if o.kind in ("image", "video")]
        rest = [str(o.path) for o in others if o.kind not in ("image", "video")]
        return {
            self.others: gr.update(visible=bool(others)),
            self.other_gallery: gr.update(value=visual, visible=bool(visual)),
            self.other_files: gr.update(value=rest, visible=bool(rest)),
        }

    def compared(self, before: Any, shown: dict[Component, Any]) -> dict[Component, Any]:
        """'Before / after' for shown results: the form's input image beside the first image
        result (another one picked in the gallery replaces it); hidden without both."""
        if self.gallery not in shown:
            return {}
        after = next((p for p, _ in shown[self.gallery] if extension_kind(p) == "image"), None)
        both = before is not None and after is not None
        return {
            self.compare_box: gr.update(visible=both),
            self.compare: (before, after) if both else None,
            self.before: before if both else None,
        }

    def code(
        self, endpoint: Endpoint, values: dict[str, Any], files: dict[str, Path], stream: bool
    ) -> dict[Component, Any]:
        views = snippets.code_views(endpoint, values, files, stream=stream)
        return dict(zip((self.api_params, self.api_python, self.api_curl), views, strict=True))


def _preview_html(frame: Preview) -> str:
    """The frame as an inline image (its type is one of `models.PREVIEW_TYPES`, its bytes
    base64-encoded here: nothing the server sent reaches the page as markup)."""
    data = base64.b64encode(frame.data).decode("ascii")
    return (
        f'<img alt="Live preview" src="data:{html.escape(frame.content_type)};base64,{data}" '
        'style="display:block;margin:auto;max-width:100%;max-height:440px">'
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
        busy = self.queue.busy(self._tab(values, request))
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
        text = "Not sent: the form could not be read; check the uploads and press Run again."
        status = {self.results.status: st.Status("failed", text).html()}
        return {**status, **self.queue.buttons(self.queue.busy(self._tab(values, request)))}

    async def cancelled(
        self, values: dict[Component, Any], request: gr.Request
    ) -> dict[Component, Any]:
        """Cancel stops the tab's runs (the only way, besides no page for --orphan-timeout)."""
        await self.queue.cancel(self._tab(values, request))
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


def _pick_after(before: Any, event: gr.SelectData) -> Any:
    """The gallery's picked image as the 'after' of the comparison (a video leaves it)."""
    picked = event.value.get("image") if isinstance(event.value, dict) else None
    path = picked.get("path") if isinstance(picked, dict) else None
    return (before, path) if before is not None and path else gr.skip()


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
