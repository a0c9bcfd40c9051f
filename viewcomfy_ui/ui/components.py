"""Gradio components with our own reading of what the browser sends.

Subclasses, not patched instances: Gradio makes a field's component anew (from its constructor
arguments) whenever an event updates it, e.g. Run marking a refused field, and a patched
instance would lose its patch there. Gradio writes an interface file for each component class
(`components.pyi`, kept in the repository so nothing is written at run time).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
from PIL import Image as PILImage

UNREADABLE = (OSError, ValueError, SyntaxError, PILImage.DecompressionBombError)


@dataclass(frozen=True)
class Unreadable:
    """An upload that is not a readable image (a corrupt file, a text file): its name."""

    name: str


class RangeSlider(gr.Slider):
    """A slider without Gradio's own range check, whose error names no field: the kind's
    `validate` checks the range and says which field."""

    is_template = True  # drawn by the page as its base class (a slider)

    def preprocess(self, payload: Any) -> Any:
        return gr.Number.round_to_precision(payload, self.precision)


class ReadableImage(gr.Image):
    """An image upload whose value is `Unreadable` where Gradio cannot read the file (else the
    run fails before any check, naming no field)."""

    is_template = True

    def preprocess(self, payload: Any) -> Any:
        try:
            return super().preprocess(payload)
        except UNREADABLE:
            return Unreadable(upload_name(payload))


class ReadableImageEditor(gr.ImageEditor):
    """An image editor whose value is `Unreadable` where Gradio cannot read the background."""

    is_template = True

    def preprocess(self, payload: Any) -> Any:
        try:
            return super().preprocess(payload)
        except UNREADABLE:
            return Unreadable(upload_name(payload))


def upload_name(payload: Any) -> str:
    """The name the visitor's file had (an image editor's: its background's)."""
    payload = getattr(payload, "background", None) or payload
    name = getattr(payload, "orig_name", None) or getattr(payload, "path", None) or "the file"
    return Path(str(name)).name
