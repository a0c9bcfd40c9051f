"""A tab's form kept in the browser, so a reloaded page (or a phone's suspended tab) comes back
as the user left it.

Each change of the form is written to the tab's sessionStorage (kept by a reload, one per tab)
by a small script in the browser; the page's load hands it back to `restore`, which puts back
every value that fits its field. An upload is kept as the file Gradio already holds for it;
one that cannot come back (too large for the browser's storage, a painted mask, a file Gradio
has since removed) is left out, and a warning names it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.utils import get_upload_folder

from ..fields import SEED_MODES
from .kinds import FieldWidget, ImageMask, Media
from .values import validate

FORM_KEY = "viewcomfy-ui-form"
OMITTED = "__omitted__"  # an upload's place when the whole form was too large to keep
Component = gr.components.Component


class FormKeeper:
    """Keeps one form's values in the tab's sessionStorage and restores them on load."""

    def __init__(self, widgets: Sequence[FieldWidget], scope: str = "") -> None:
        self.widgets = widgets
        self.names = [w.field.key for w in widgets] + [
            f"{w.field.key}#mode" for w in widgets if w.mode
        ]  # in the order of `components`
        digest = hashlib.sha256(json.dumps([scope, self.names]).encode()).hexdigest()[:16]
        self.storage_key = f"{FORM_KEY}:{digest}"  # another form or workflow: another key
        self.saved = gr.Textbox(visible=False)  # carries the kept form to `restore`

    @property
    def components(self) -> list[Component]:
        return [w.component for w in self.widgets] + [w.mode for w in self.widgets if w.mode]

    def mount(self, page: gr.Blocks) -> None:
        components = self.components
        gr.on(
            [c.change for c in components], None, inputs=components, js=self._save_js(),
            queue=False, show_progress="hidden",
        )  # fmt: skip
        page.load(
            self.restore, inputs=[self.saved], outputs=[self.saved, *components],
            js=self._load_js(),
            queue=False, show_progress="hidden", api_visibility="private",
        )  # fmt: skip

    def restore(self, saved: str | None) -> dict[Component, Any]:
        """The kept values that fit their fields (none without any; the carrier is emptied);
        a warning names the uploads left out."""
        try:
            kept = json.loads(saved) if saved else None
        except ValueError:
            kept = None
        form: dict[Component, Any] = {self.saved: None}
        if not isinstance(kept, dict):
            return form
        lost = []
        for w in self.widgets:
            key = w.field.key
            if key in kept:
                value = _media(w, kept[key]) if isinstance(w.kind, Media) else kept[key]
                if value is None and isinstance(w.kind, Media) and kept[key] is not None:
                    lost.append(w.field.label)
                elif value is None or isinstance(w.kind, Media) or validate(w.field, value) is None:
                    form[w.component] = value
            if w.mode is not None and kept.get(f"{key}#mode") in SEED_MODES:
                form[w.mode] = kept[f"{key}#mode"]
        if lost:
            gr.Warning(
                "The form came back without the upload of " + ", ".join(lost)
                + ": it was too large to keep in the browser, or is gone; add it again."
            )  # fmt: skip
        return form

    def _save_js(self) -> str:
        return f"""(...values) => {{
  const names = {json.dumps(self.names)};
  const form = (plain) => Object.fromEntries(names.map((name, i) => {{
    const value = values[i];
    return [name, plain && value && typeof value === "object" ? "{OMITTED}" : value];
  }}));
  try {{
    sessionStorage.setItem("{self.storage_key}", JSON.stringify(form(false)));
  }} catch (e) {{
    try {{ sessionStorage.setItem("{self.storage_key}", JSON.stringify(form(true))); }}
    catch (e2) {{}}
  }}
}}"""

    def _load_js(self) -> str:
        return f'() => [sessionStorage.getItem("{self.storage_key}")]'


def _media(widget: FieldWidget, value: Any) -> str | None:
    """The file Gradio holds for a kept upload (its own upload folder only: the browser's word
    is no path to trust), or None."""
    if isinstance(widget.kind, ImageMask) or not isinstance(value, dict):
        return None
    path = value.get("path")
    if not isinstance(path, str) or not path:
        return None
    root = Path(get_upload_folder()).resolve()
    try:
        found = Path(path).resolve()
    except (OSError, ValueError):
        return None
    return str(found) if found.is_relative_to(root) and found.is_file() else None
