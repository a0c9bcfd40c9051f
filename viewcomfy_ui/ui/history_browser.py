"""The `#history` section: a visitor's past runs as thumbnails, paging, the selected run (its
outputs, status and params), and what to do with it: use its settings, delete it, send a result
into a media field, share a link to the form's settings.

Every handler reads the visitor's token (ui/visitor.py) and returns a dict keyed by component.
"""

from __future__ import annotations

import dataclasses
import html
import json
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
from PIL import Image as PILImage

from ..history import RunRecord, StoredFile
from ..output_pick import OutputPick
from . import status as st
from .history import HistoryContext
from .kinds import FieldWidget, Media, TextArea
from .values import validate
from .visitor import Identity, new_token, owner_key

PAGE_SIZE = 12
PROMPT_CHARS = 40  # of a prompt's start in a thumbnail's caption
TILES = Path(tempfile.gettempdir()) / "viewcomfy-ui-tiles"  # plain tiles for runs without images
SCROLL_JS = """(key) => {
  const field = document.getElementById(%s[key]);
  field?.scrollIntoView({behavior: "smooth", block: "center"});
  if (field) field.style.outline = "2px solid var(--color-accent)";
  setTimeout(() => { if (field) field.style.outline = ""; }, 2000);
}"""
SHARE_JS = """(query) => {
  if (!query) return "";
  const link = window.location.origin + window.location.pathname + query;
  navigator.clipboard?.writeText(link).catch(() => {});
  return link;
}"""
Component = gr.components.Component


@dataclass(frozen=True)
class BrowserParts:
    """The section's components."""

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
    sent_note: gr.HTML
    share: gr.Button
    share_link: gr.Textbox


class HistoryBrowser:
    """The `#history` section of one form: built, then mounted."""

    def __init__(
        self, context: HistoryContext, identity: Identity, widgets: Sequence[FieldWidget]
    ) -> None:
        self.context = context
        self.store = context.store
        self.identity = identity
        self.widgets = widgets
        self.page = gr.State(0)
        self.shown_ids = gr.State([])  # run ids of the thumbnails on the current page
        self.selected = gr.State(None)  # the selected run's id
        self.picked = gr.State(None)  # the result picked to send into a field
        self.parts: BrowserParts | None = None

    def owner(self, token: str | None, request: gr.Request | None) -> str:
        """The visitor's owner key within this form."""
        return owner_key(token, request, self.context.scope)

    # --- layout ------------------------------------------------------------------------------

    def build(self) -> None:
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
                send = gr.Button(  # on once a result is picked (the pick has reached us)
                    "Send to the form", elem_id="send-result", visible=bool(media), size="sm",
                    interactive=False,
                )  # fmt: skip
                sent_note = gr.HTML(elem_id="send-note", visible=bool(media))
                share = gr.Button("Copy a link to these settings", elem_id="share", size="sm")
                link = gr.Textbox(
                    label="Share link", elem_id="share-link", interactive=False, scale=3,
                    buttons=["copy"],
                )  # fmt: skip
        self.parts = BrowserParts(
            note=note, gallery=gallery, prev=prev, page_label=label, next=nxt, outputs=outputs,
            status=status, params=params, use=use, delete=delete, send_target=target, send=send,
            sent_note=sent_note, share=share, share_link=link,
        )  # fmt: skip

    @property
    def listing_components(self) -> list[Component]:
        """What `listing` writes: the thumbnails, the page label, their run ids, the page."""
        assert self.parts is not None
        return [self.parts.gallery, self.parts.page_label, self.shown_ids, self.page]

    # --- wiring ----------------------------------------------------------------------------------

    def mount(
        self, page: gr.Blocks, form_components: list[Component], results_gallery: gr.Gallery
    ) -> None:
        """Wire the section: load (owner token, history, a shared link), paging, select,
        Use these settings, Delete, send a result into a field, share."""
        assert self.parts is not None
        b, who = self.parts, self.identity
        listing = self.listing_components
        private = {"api_visibility": "private", "queue": False}
        tokens = [who.owner, who.token] if who.keeps_token else []  # the first form writes them
        page.load(
            self.loaded, inputs=[who.owner], outputs=[*tokens, b.note, *listing, *form_components],
            **private,
        )  # fmt: skip
        b.prev.click(self.paged(-1), inputs=[who.owner, self.page], outputs=listing, **private)
        b.next.click(self.paged(+1), inputs=[who.owner, self.page], outputs=listing, **private)
        details = [self.selected, b.outputs, b.status, b.params]
        b.gallery.select(self.selected_run, inputs=[who.owner, self.shown_ids], outputs=details, **private)  # fmt: skip
        b.use.click(self.use, inputs=[who.owner, self.selected], outputs=form_components, **private)  # fmt: skip
        b.delete.click(
            self.deleted, inputs=[who.owner, self.selected, self.page],
            outputs=[*details, *listing], **private,
        )  # fmt: skip
        results_gallery.select(_picked, outputs=[self.picked, b.send], **private)
        b.outputs.select(_picked, outputs=[self.picked, b.send], **private)
        media = {w.field.key: w for w in self.widgets if isinstance(w.kind, Media)}
        if media:
            ids = json.dumps({key: w.component.elem_id for key, w in media.items()})
            b.send.click(
                self.sent(media), inputs=[self.picked, b.send_target],
                outputs=[b.sent_note, *(w.component for w in media.values())], **private,
            ).success(None, inputs=[b.send_target], js=SCROLL_JS % ids, **private)  # fmt: skip
        b.share.click(
            self.share_query, inputs=set(form_components), outputs=[b.share_link], **private
        ).then(None, inputs=[b.share_link], outputs=[b.share_link], js=SHARE_JS, **private)

    # --- handlers --------------------------------------------------------------------------------

    def loaded(self, token: str | None, request: gr.Request) -> dict[Component, Any]:
        """A new visitor gets a random token (from the first form's section; the others show
        an empty history until then); a shared link's query restores the form."""
        assert self.parts is not None
        who = self.identity
        if not token and who.keeps_token:
            token = new_token()
        shown: dict[Component, Any] = {self.parts.note: _note(self.store.problem or "")}
        shown.update(self.listing(self.owner(token, request), 0))
        shown.update(self._from_query(dict(request.query_params) if request else {}))
        if who.keeps_token:
            shown.update({who.owner: token, who.token: token})
        return shown

    def paged(self, step: int) -> Callable[..., dict[Component, Any]]:
        def page(token: str | None, number: int, request: gr.Request) -> dict[Component, Any]:
            return self.listing(self.owner(token, request), number + step)

        return page

    def listing(self, owner: str, number: int) -> dict[Component, Any]:
        """Page `number` of the owner's runs (kept within the pages there are)."""
        assert self.parts is not None
        b = self.parts
        total = self.store.count(owner)
        pages = max(1, -(-total // PAGE_SIZE))
        number = max(0, min(number, pages - 1))
        runs = self.store.list(owner, offset=number * PAGE_SIZE, limit=PAGE_SIZE)
        thumbs = [(str(self._thumbnail(owner, r)), self._caption(r)) for r in runs]
        label = f'<span data-total="{total}">Page {number + 1} of {pages} · {total} runs</span>'
        return {b.gallery: thumbs, b.page_label: label, self.shown_ids: [r.id for r in runs], self.page: number}  # fmt: skip

    def _thumbnail(self, owner: str, run: RunRecord) -> Path:
        """The run's main image or video (a save node's, not a preview's), else a plain tile."""
        shown = [f for f in run.outputs if f.kind in ("image", "video")]
        for f in _main_first(shown, self.context.workflow_api, run.params):
            path = self.store.file(owner, run.id, f.name)
            if path is not None:
                return path
        return _placeholder(TILES, run.status)

    def _caption(self, run: RunRecord) -> str:
        """When, how it ended, the seed and the start of the prompt."""
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(run.created))
        parts = [when, run.status, *(f"seed {s}" for s in list(run.seeds.values())[:1])]
        prompt = next(
            (
                run.params.get(w.field.key, w.field.value)
                for w in self.widgets
                if isinstance(w.kind, TextArea) and "negative" not in w.field.label.lower()
            ),
            None,
        )
        if isinstance(prompt, str) and prompt.strip():
            line = " ".join(prompt.split())
            parts.append(line if len(line) <= PROMPT_CHARS else line[: PROMPT_CHARS - 1] + "…")
        return " · ".join(parts)

    def selected_run(
        self, token: str | None, ids: list[str], event: gr.SelectData, request: gr.Request
    ) -> dict[Component, Any]:
        owner = self.owner(token, request)
        index = event.index if isinstance(event.index, int) else None
        run = self.store.get(owner, ids[index]) if index is not None and index < len(ids) else None
        if run is None:
            return self._details(None)
        main_first = _main_first(run.outputs, self.context.workflow_api, run.params)
        files = [self.store.file(owner, run.id, f.name) for f in main_first]
        return self._details(run, [(str(p), p.name) for p in files if p is not None])

    def _details(
        self, run: RunRecord | None, outputs: list[tuple[str, str]] | None = None
    ) -> dict[Component, Any]:
        """The selected run's id, outputs, status and params (all empty: none selected)."""
        assert self.parts is not None
        b = self.parts
        if run is None:
            return {self.selected: None, b.outputs: [], b.status: "", b.params: ""}
        return {
            self.selected: run.id,
            b.outputs: outputs or [],
            b.status: _run_status(run),
            b.params: json.dumps(self._labelled(run.params), indent=2, ensure_ascii=False),
        }

    def _labelled(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Params by their field's label (a key the form no longer has stays a key)."""
        labels = {w.field.key: w.field.label for w in self.widgets}
        return {labels.get(key, key): value for key, value in params.items()}

    def use(
        self, token: str | None, run_id: str | None, request: gr.Request
    ) -> dict[Component, Any]:
        """The form as the run had it, its seeds fixed to the ones used."""
        owner = self.owner(token, request)
        run = self.store.get(owner, run_id) if run_id else None
        if run is None:
            raise gr.Error("Select a run in the history first.")
        form: dict[Component, Any] = {}
        for w in self.widgets:
            key = w.field.key
            if isinstance(w.kind, Media):
                kept = run.uploads.get(key)
                path = self.store.file(owner, run.id, kept.name) if kept else None
                form[w.component] = str(path) if path else w.kind.reset(w.field, w.default_file)
            elif key in run.seeds or key in run.params:
                value = run.seeds.get(key, run.params.get(key))
                form[w.component] = w.kind.reset(dataclasses.replace(w.field, value=value), None)
            else:
                form[w.component] = w.kind.reset(w.field, w.default_file)
            if w.mode is not None:
                form[w.mode] = "fixed"
        return form

    def deleted(
        self, token: str | None, run_id: str | None, number: int, request: gr.Request
    ) -> dict[Component, Any]:
        owner = self.owner(token, request)
        if not run_id or not self.store.delete(owner, run_id):
            raise gr.Error("Select a run in the history first.")
        return {**self._details(None), **self.listing(owner, number)}

    def sent(self, media: Mapping[str, FieldWidget]) -> Callable[..., dict[Component, Any]]:
        """Put the picked result into the chosen media field, and say so (the page then
        scrolls to the field)."""
        assert self.parts is not None
        note = self.parts.sent_note

        def send(picked: str | None, key: str | None) -> dict[Component, Any]:
            if not picked or key not in media:
                raise gr.Error("Pick a result (click it in a gallery) first.")
            label = html.escape(media[key].field.label)
            return {
                media[key].component: picked,
                note: f'<span class="vc-sent-note">Sent to “{label}”.</span>',
            }

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

    def _from_query(self, query: dict[str, str]) -> dict[Component, Any]:
        """Form values from a shared link (none without one); a value that does not fit its
        field is left out."""
        if not query:
            return {}
        form: dict[Component, Any] = {}
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
            form[w.component] = restored
            if w.mode is not None:
                form[w.mode] = "fixed" if raw is not None else w.field.seed_mode
        return form


# --- helpers ---------------------------------------------------------------------------------


def _main_first(
    files: Sequence[StoredFile], workflow: Mapping[str, Any] | None, params: Mapping[str, Any]
) -> list[StoredFile]:
    """`files`, a save node's first (output_pick.py tells it, with the `filename_prefix` values
    the run sent), then files no rule places, then by-products (previews)."""
    sent = {
        node_id: {**node, "inputs": {**node["inputs"], "filename_prefix": params[key]}}
        if isinstance(node, Mapping)
        and isinstance(node.get("inputs"), Mapping)
        and isinstance(params.get(key := f"{node_id}-inputs-filename_prefix"), str)
        else node
        for node_id, node in (workflow or {}).items()
    }
    pick = OutputPick.of(sent)

    def rank(f: StoredFile) -> int:  # a save node's file, then one no rule places, then the rest
        node = pick.origin(f.name.rsplit("/", 1)[-1])
        return 1 if node is None else 0 if pick.is_result(f.name.rsplit("/", 1)[-1]) else 2

    return sorted(files, key=rank)


def _run_status(run: RunRecord) -> str:
    states = ("done", "failed", "cancelled", "interrupted")
    state = run.status if run.status in states else "running"
    parts = [run.status, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run.created))]
    if run.finished and run.started:
        parts.append(f"{run.finished - run.started:.1f} s")
    if run.prompt_id:
        parts.append(f"prompt {run.prompt_id}")
    parts += [f"seed {s}" for s in run.seeds.values()]
    parts.append("on the local engine" if run.endpoint == "local engine" else f"on {run.endpoint}")
    parts.append(run.workflow_name)
    if run.error:
        parts.append(run.error)
    return st.Status(state, " · ".join(parts)).html()  # type: ignore[arg-type]


def _note(problem: str) -> str:
    return f'<div class="vc-status vc-warning">{html.escape(problem)}</div>' if problem else ""


def _placeholder(directory: Path, state: str) -> Path:
    """A plain tile for a run without an image (failed, cancelled, audio or text only)."""
    colors = {
        "failed": (190, 60, 60), "cancelled": (150, 150, 150), "interrupted": (190, 140, 60),
        "running": (90, 110, 200),
    }  # fmt: skip
    path = directory / f"{state if state in colors else 'other'}.png"
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        PILImage.new("RGB", (96, 96), colors.get(state, (120, 160, 120))).save(path)
    return path


def _picked(event: gr.SelectData) -> tuple[str | None, dict[str, Any]]:
    """The picked result's file, and Send on when there is one."""
    value = event.value
    path = None
    if isinstance(value, dict):
        item = value.get("image") or value.get("video") or value
        path = item.get("path") if isinstance(item, dict) else None
    return path, gr.update(interactive=path is not None)
