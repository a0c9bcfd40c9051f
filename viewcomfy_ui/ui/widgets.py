"""One Gradio component per form field, chosen by the field's kind."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from ..fields import Field
from .values import color_hex

SLIDER_MAX_INT_RANGE = 256
SLIDER_MAX_FLOAT_RANGE = 10.0
JS_SAFE = 2**53 - 1


def elem_id(key: str) -> str:
    """The field's stable element id: ``field-<key>`` with unsafe characters replaced."""
    return "field-" + re.sub(r"[^A-Za-z0-9_-]", "_", key)


@dataclass
class FieldWidget:
    field: Field
    component: gr.components.Component
    randomize: gr.Checkbox | None = None  # seeds only
    default_file: Path | None = None  # media only: the workflow's own file, when known


def field_widget(
    f: Field, default_file: Path | None = None, taken_ids: set[str] | None = None
) -> FieldWidget:
    """Render one field (inside the current Blocks context)."""
    eid = elem_id(f.key)
    if taken_ids is not None:
        if eid in taken_ids:  # two keys that differ only in unsafe characters
            eid += "_" + hashlib.sha1(f.key.encode()).hexdigest()[:6]
        taken_ids.add(eid)
    common: dict[str, Any] = {"label": f.label, "elem_id": eid, "info": f.warning}
    kind = f.kind
    if kind == "seed":
        with gr.Row(equal_height=True):
            box = gr.Textbox(value=str(f.value), scale=3, **common)
            randomize = gr.Checkbox(
                value=True,
                label="Randomize each run",
                scale=1,
                min_width=120,
                elem_id=f"{eid}-randomize",
            )
        return FieldWidget(f, box, randomize=randomize)
    if kind == "textarea":
        return FieldWidget(f, gr.Textbox(value=f.value, lines=4, max_lines=20, **common))
    if kind == "text":
        return FieldWidget(f, gr.Textbox(value=f.value, lines=1, **common))
    if kind == "bool":
        return FieldWidget(f, gr.Checkbox(value=bool(f.value), **common))
    if kind == "choice":
        return FieldWidget(
            f,
            gr.Dropdown(
                choices=list(f.choices or [f.value]), value=f.value,
                allow_custom_value=f.allow_custom, filterable=True, **common,
            ),
        )  # fmt: skip
    if kind == "int" and f.display == "color":
        return FieldWidget(f, gr.ColorPicker(value=color_hex(int(f.value)), **common))
    if kind in ("int", "float"):
        return FieldWidget(f, _number(f, common))
    if kind in ("image", "video", "audio"):
        return FieldWidget(f, _media(f, eid, default_file), default_file=default_file)
    raise ValueError(f"unknown field kind {kind!r}")


def _number(f: Field, common: dict[str, Any]) -> gr.components.Component:
    low, high = f.minimum, f.maximum
    span = (high - low) if low is not None and high is not None else None
    small = span is not None and span <= (
        SLIDER_MAX_INT_RANGE if f.kind == "int" else SLIDER_MAX_FLOAT_RANGE
    )
    if small:
        step = f.step or (1 if f.kind == "int" else 0.01)
        return gr.Slider(minimum=low, maximum=high, step=step, value=f.value, **common)
    return gr.Number(
        value=f.value,
        minimum=low if low is not None and abs(low) <= JS_SAFE else None,
        maximum=high if high is not None and abs(high) <= JS_SAFE else None,
        step=f.step or (1 if f.kind == "int" else 0.01),
        precision=0 if f.kind == "int" else None,
        **common,
    )


def _media(f: Field, eid: str, default_file: Path | None) -> gr.components.Component:
    """An upload widget, showing the workflow's own file when we have it."""
    value = str(default_file) if default_file else None
    common = {"value": value, "label": f.label, "elem_id": eid}
    if f.kind == "image":  # image_mode=None and PNG keep the upload's transparency
        return gr.Image(
            type="filepath", image_mode=None, format="png", sources=["upload", "clipboard"],
            height=260, **common,
        )  # fmt: skip
    if f.kind == "video":
        return gr.Video(sources=["upload"], height=260, **common)
    return gr.Audio(type="filepath", sources=["upload"], **common)


def reset_value(w: FieldWidget) -> Any:
    """The value that restores the widget to the workflow's default."""
    f = w.field
    if f.kind == "seed":
        return str(f.value)
    if f.kind in ("image", "video", "audio"):
        return str(w.default_file) if w.default_file else None
    if f.display == "color":
        return color_hex(int(f.value))
    return f.value
