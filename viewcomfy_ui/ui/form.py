"""The form: one group per section (its heading and notes, then its fields, small ones two to
a row), basic fields first, then a closed Advanced accordion with a search box.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Any

import gradio as gr

from ..arrange import authored, pairs, section_title
from ..fields import Field
from .kinds import FieldWidget, field_widget
from .note_markdown import note_markdown

Component = gr.components.Component
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


def form_widgets(fields: Sequence[Field], default_files: dict[str, Path]) -> list[FieldWidget]:
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
