"""Author mode (``--edit``): pick, rename, reorder and group a workflow's fields, then save them
as a ``view_comfy.json`` that this app and ViewComfy's app both load.

Each field gets one row: where it goes (basic, advanced or hidden), its place, its title, its
group and its help text; rows follow their order numbers as they change (in the browser), and a
preview beside them shows the form as saved. Save (at the top and at the bottom) writes the file
(`curated.to_view_comfy`) and offers it to download.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Any

import gradio as gr

from ..curated import Pick, to_view_comfy
from ..fields import Field
from ..workflow import Workflow
from .kinds import elem_id

SECTIONS = [("Basic form", "basic"), ("Advanced", "advanced"), ("Hidden", "hidden")]
Component = gr.components.Component
# Rows in order of their numbers (ties and empty ones: as listed), moved in the browser.
SORT_ROWS = """() => {
  const list = document.getElementById('edit-rows');
  if (!list) return;
  const rows = [...list.querySelectorAll(':scope > .vc-edit-row')];
  const number = (row) => {
    const value = parseFloat(row.querySelector('[id^="edit-order-"] input')?.value);
    return Number.isFinite(value) ? value : Infinity;
  };
  rows.forEach((row, i) => { row.dataset.listed ??= i; });
  const sorted = [...rows].sort((a, b) => number(a) - number(b) || a.dataset.listed - b.dataset.listed);
  if (sorted.every((row, i) => row === rows[i])) return;
  const typing = document.activeElement;  // moving a row takes the focus from a box in it
  const [start, end] = [typing?.selectionStart, typing?.selectionEnd];
  sorted.forEach((row) => list.appendChild(row));
  if (typing && document.activeElement !== typing && list.contains(typing)) {
    typing.focus({preventScroll: true});
    if (start != null) typing.setSelectionRange(start, end);
  }
}"""


@dataclass
class Row:
    """One field's controls."""

    field: Field
    section: gr.Radio
    order: gr.Number
    title: gr.Textbox
    group: gr.Textbox
    help: gr.Textbox

    @property
    def components(self) -> list[Component]:
        return [self.section, self.order, self.title, self.group, self.help]


def build_editor(
    workflow: Workflow,
    fields: Sequence[Field],
    out: Path,
    *,
    title: str,
    chosen: Sequence[Field] | None = None,
) -> gr.Blocks:
    """The author page. `chosen` (a curated form being edited) starts as picked, in its order;
    without it every field starts where inference puts it."""
    start = _start(fields, chosen)
    with gr.Blocks(title=f"Edit: {title}", fill_width=True) as page:
        gr.HTML(f'<h1 class="vc-title">Author mode: {html.escape(title)}</h1>')
        gr.HTML(
            '<div class="vc-banner">Choose what users see: put each field in the basic form, in '
            "Advanced, or hide it; fields show in order of their number, grouped under their "
            f"group title. Save writes {html.escape(str(out))}; run it with "
            f"<code>python app.py --workflow {html.escape(str(out))}</code>.</div>"
        )
        with gr.Row():
            form_title = gr.Textbox(title, label="Form title", elem_id="edit-form-title")
            description = gr.Textbox("", label="Description", elem_id="edit-description")
        with gr.Row(elem_id="actions"):
            save = gr.Button("Save", variant="primary", elem_id="save")
            hide_all = gr.Button("Hide all", elem_id="hide-all")
        status = gr.HTML("", elem_id="edit-status")
        download = gr.File(
            label="view_comfy.json", elem_id="edit-file", interactive=False, visible=False
        )
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, elem_id="edit-rows"):
                rows = [_row(f, *start[f.key]) for f in fields]
            with gr.Column(scale=1, min_width=260, elem_classes=["vc-edit-preview"]):
                preview = gr.HTML(
                    _preview(_picks(rows, _values(rows, start))), elem_id="edit-preview"
                )
        save_bottom = gr.Button("Save", variant="primary", elem_id="save-bottom")

        def saved(values: dict[Component, Any]) -> dict[Component, Any]:
            picks = _picks(rows, values)
            if not picks:
                return {status: _note("Nothing saved: put at least one field in the form.")}
            data = to_view_comfy(
                workflow, picks, title=values[form_title].strip() or title,
                description=values[description].strip(),
            )  # fmt: skip
            try:
                out.write_text(json.dumps(data, indent=2), encoding="utf-8")
            except OSError as exc:
                return {status: _note(f"Not saved: cannot write {out} ({exc.strerror or exc}).")}
            shown = sum(not p.advanced for p in picks)
            note = f"Saved {out}: {shown} basic and {len(picks) - shown} advanced fields."
            return {
                status: _note(note, ok=True),
                download: gr.update(value=str(out.resolve()), visible=True),
            }

        inputs = {form_title, description, *(c for r in rows for c in r.components)}
        for button in (save, save_bottom):
            button.click(saved, inputs=inputs, outputs=[status, download], api_visibility="private")
        gr.on(
            [c.change for r in rows for c in r.components],
            lambda values: _preview(_picks(rows, values)), inputs=inputs, outputs=preview,
            api_visibility="private", show_progress="hidden", trigger_mode="always_last",
        )  # fmt: skip
        gr.on([r.order.change for r in rows], None, js=SORT_ROWS, api_visibility="private")
        sections = [r.section for r in rows]
        hide_all.click(
            lambda: ["hidden"] * len(sections), outputs=sections, api_visibility="private"
        )
    return page


def _start(
    fields: Sequence[Field], chosen: Sequence[Field] | None
) -> dict[str, tuple[str, int, str, str, str]]:
    """Each field's starting section, order, title, group and help."""
    if chosen is None:
        return {
            f.key: ("advanced" if f.advanced else "basic", i + 1, f.label, f.node_title, "")
            for i, f in enumerate(fields)
        }
    picked = {
        f.key: ("advanced" if f.advanced else "basic", i + 1, f.label, f.node_title, f.help or "")
        for i, f in enumerate(chosen)
    }
    rest = len(chosen) + 1
    return {
        f.key: picked.get(f.key) or ("hidden", rest + i, f.label, f.node_title, "")
        for i, f in enumerate(fields)
    }


def _row(f: Field, section: str, order: int, title: str, group: str, help_text: str) -> Row:
    eid = elem_id(f.key).removeprefix("field-")
    where = f"{f.node_title} · {f.input_name} ({f.kind})"
    with gr.Group(elem_classes=["vc-node", "vc-edit-row"], elem_id=f"edit-row-{eid}"):
        gr.HTML(f'<div class="vc-node-title">{html.escape(where)}</div>')
        with gr.Row(equal_height=True):
            section_box = gr.Radio(
                SECTIONS, value=section, label="Show in", elem_id=f"edit-section-{eid}",
                min_width=260, scale=3,
            )  # fmt: skip
            order_box = gr.Number(order, label="Order", elem_id=f"edit-order-{eid}", min_width=80, scale=1)  # fmt: skip
            title_box = gr.Textbox(title, label="Title", elem_id=f"edit-title-{eid}", scale=3)
            group_box = gr.Textbox(group, label="Group", elem_id=f"edit-group-{eid}", scale=3)
            help_box = gr.Textbox(help_text, label="Help text", elem_id=f"edit-help-{eid}", scale=4)
    return Row(f, section_box, order_box, title_box, group_box, help_box)


def _picks(rows: Sequence[Row], values: dict[Component, Any]) -> list[Pick]:
    """The shown fields, by order number (ties: as listed)."""
    kept = [
        (values[r.order] if values[r.order] is not None else float("inf"), i, r)
        for i, r in enumerate(rows)
        if values[r.section] != "hidden"
    ]
    return [
        Pick(
            r.field,
            title=values[r.title] or r.field.label,
            help=values[r.help] or "",
            advanced=values[r.section] == "advanced",
            group=values[r.group] or "",
        )
        for _, _, r in sorted(kept, key=lambda item: item[:2])
    ]


def _values(rows: Sequence[Row], start: dict[str, tuple]) -> dict[Component, Any]:
    """The rows' starting values, as an event would give them."""
    return {
        c: value for r in rows for c, value in zip(r.components, start[r.field.key], strict=True)
    }


def _preview(picks: Sequence[Pick]) -> str:
    """The form as saved: its groups' titles and fields, basic ones first, then Advanced."""
    parts = ['<div class="vc-preview"><div class="vc-node-title">Preview</div>']
    for advanced in (False, True):
        chosen = [p for p in picks if p.advanced == advanced]
        if advanced and chosen:
            parts.append('<div class="vc-preview-advanced">Advanced</div>')
        for group, members in groupby(chosen, key=lambda p: p.group.strip() or p.field.node_title):
            members = list(members)
            if len(members) > 1:
                parts.append(f"<h4>{html.escape(group)}</h4>")
            items = "".join(
                f"<li>{html.escape(p.title.strip() or p.field.label)}"
                f" <small>{html.escape(p.field.kind)}</small></li>"
                for p in members
            )
            parts.append(f"<ul>{items}</ul>")
    if not picks:
        parts.append("<p>No field in the form yet.</p>")
    return "".join(parts) + "</div>"


def _note(text: str, *, ok: bool = False) -> str:
    state = "done" if ok else "failed"
    return f'<div class="vc-status" data-state="{state}">{html.escape(text)}</div>'
