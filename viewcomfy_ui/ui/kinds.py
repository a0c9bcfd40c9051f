"""Field kinds: each kind's widget, reset value, validation and coercion, in one class.

`fields.py` decides a field's kind (a name in `field_kinds.FIELD_KINDS`, which also says whether
it is an upload and which ranges show as sliders); the class registered under that name here
does the rest. Adding a kind is a row in that table and one class here with ``@register``. The
pure methods (`validate`, `coerce`) do no I/O; `upload` (media kinds) reads files and is called
at the edge, by the page, when a run starts.
"""

from __future__ import annotations

import hashlib
import html
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import gradio as gr
from PIL import Image as PILImage
from PIL import ImageChops, ImageColor, ImageOps

from ..field_kinds import FIELD_KINDS
from ..fields import SEED_MODES, Field, shown_label
from ..paths import unique_file
from ..workflow import is_number
from .components import RangeSlider, ReadableImage, ReadableImageEditor, Unreadable

JS_SAFE_INT = 2**53 - 1  # larger ints lose digits in the browser: such values stay text
MEDIA_HEIGHT = 260
SEED_MODE_LABELS = ("random", "fixed", "+1", "−1")  # shown after "Each run"


@dataclass
class FieldWidget:
    """A field's components on the page: its value `component` and, for seeds, `mode`."""

    field: Field
    kind: Kind
    component: gr.components.Component
    mode: gr.components.Component | None = None
    default_file: Path | None = None  # media only: the workflow's own file, when known

    def reset(self) -> dict[gr.components.Component, Any]:
        """Component -> the value that restores the workflow's default."""
        restored: dict[gr.components.Component, Any] = {
            self.component: self.kind.reset(self.field, self.default_file)
        }
        if self.mode is not None:
            restored[self.mode] = self.field.seed_mode
        return restored

    def mark(self, error: str | None) -> Any:
        """An update that marks the field as refused (with the reason), or clears the mark."""
        classes = ["vc-refused"] if error else []
        if not self.kind.takes_info:  # uploads and tables have no info line
            return gr.update(elem_classes=classes)
        reason = error.removeprefix(f"{self.field.label}: ") if error else None
        return gr.update(elem_classes=classes, info=reason or self.field.warning or self.field.help)


class Kind:
    """One kind of field. Subclasses set `name` and override what differs."""

    name: ClassVar[str]

    @property
    def media(self) -> bool:
        """An upload (sent as a file), as the kinds table says."""
        return FIELD_KINDS[self.name].media

    @property
    def takes_info(self) -> bool:
        """Its component shows an `info` line (uploads and tables do not)."""
        return not self.media

    def build(self, f: Field, common: dict[str, Any], default_file: Path | None) -> FieldWidget:
        """The field's components, created inside the current Blocks context."""
        raise NotImplementedError

    def reset(self, f: Field, default_file: Path | None) -> Any:
        """The component value that shows the workflow's own value."""
        return f.value

    def validate(self, f: Field, raw: Any) -> str | None:
        """Why `raw` (the component's value) is not acceptable, or None."""
        return None

    def coerce(self, f: Field, raw: Any) -> Any:
        """The component's value as the JSON value ComfyUI expects."""
        return raw


KINDS: dict[str, Kind] = {}


def register(cls: type[Kind]) -> type[Kind]:
    """Class decorator: make `cls` the widget of the kind `name` in the kinds table."""
    if cls.name not in FIELD_KINDS:
        raise ValueError(f"{cls.name!r} is not in field_kinds.FIELD_KINDS; add its row there")
    KINDS[cls.name] = cls()
    return cls


def kind_of(f: Field) -> Kind:
    try:
        return KINDS[f.kind]
    except KeyError as exc:
        raise ValueError(f"{f.key}: unknown field kind {f.kind!r}") from exc


def elem_id(key: str) -> str:
    """The field's stable element id: ``field-<key>`` with unsafe characters replaced."""
    return "field-" + re.sub(r"[^A-Za-z0-9_-]", "_", key)


def field_widget(
    f: Field,
    default_file: Path | None = None,
    taken_ids: set[str] | None = None,
    own_label: bool = False,
) -> FieldWidget:
    """Render one field (inside the current Blocks context); `own_label`: its whole label,
    when no heading of its own node stands above it."""
    eid = elem_id(f.key)
    if taken_ids is not None:
        if eid in taken_ids:  # two keys that differ only in unsafe characters
            eid += "_" + hashlib.sha1(f.key.encode()).hexdigest()[:6]
        taken_ids.add(eid)
    label = f.label if own_label else shown_label(f)  # under its node's heading: what it adds
    common: dict[str, Any] = {
        "label": label or f.label, "show_label": label is not None, "elem_id": eid,
        "info": f.warning or f.help,
    }  # fmt: skip
    return kind_of(f).build(f, common, default_file)


# --- text, choices, booleans -----------------------------------------------------------------


@register
class Text(Kind):
    name = "text"
    lines = 1

    def build(self, f: Field, common: dict[str, Any], default_file: Path | None) -> FieldWidget:
        box = gr.Textbox(value=f.value, lines=self.lines, max_lines=max(self.lines, 20), **common)
        return FieldWidget(f, self, box)

    def coerce(self, f: Field, raw: Any) -> Any:
        return "" if raw is None else str(raw)


@register
class TextArea(Text):
    name = "textarea"
    lines = 4


@register
class Bool(Kind):
    name = "bool"

    def build(self, f: Field, common: dict[str, Any], default_file: Path | None) -> FieldWidget:
        return FieldWidget(f, self, gr.Checkbox(value=bool(f.value), **common))

    def coerce(self, f: Field, raw: Any) -> Any:
        return bool(raw)


@register
class Choice(Kind):
    name = "choice"

    def build(self, f: Field, common: dict[str, Any], default_file: Path | None) -> FieldWidget:
        choices = list(f.choices or [f.value])
        if f.choices and f.choice_labels:  # the author's names (curated `select` options)
            choices = list(zip(f.choice_labels, choices, strict=True))
        dropdown = gr.Dropdown(
            choices=choices, value=f.value,
            allow_custom_value=f.allow_custom, filterable=True, **common,
        )  # fmt: skip
        return FieldWidget(f, self, dropdown)

    def validate(self, f: Field, raw: Any) -> str | None:
        if raw is None or raw == "":
            return f"{f.label}: choose a value"
        if not f.allow_custom and f.choices and raw not in f.choices:
            return f"{f.label}: choose one of the listed values"
        return None


# --- numbers ---------------------------------------------------------------------------------


def parse_int(raw: Any) -> int | None:
    """An exact int from a number or a digit string (seeds are text in the browser)."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        return int(raw) if math.isfinite(raw) and raw.is_integer() else None
    if isinstance(raw, str):
        text = raw.strip().replace("_", "")
        if text.lstrip("-").isdigit():
            return int(text)
    return None


def _range_error(f: Field, number: float) -> str | None:
    if f.minimum is not None and number < f.minimum:
        return f"{f.label}: must be at least {_fmt(f.minimum)}"
    if f.maximum is not None and number > f.maximum:
        return f"{f.label}: must be at most {_fmt(f.maximum)}"
    return None


def _fmt(number: float) -> str:
    return f"{number:g}" if isinstance(number, float) else str(number)


@register
class Int(Kind):
    name = "int"
    default_step: ClassVar[float] = 1

    def build(self, f: Field, common: dict[str, Any], default_file: Path | None) -> FieldWidget:
        """A slider for a small range holding the saved value, else a number box. Ranges are
        checked by `validate` (naming the field), never by Gradio, so a number box gets none."""
        low, high, step = f.minimum, f.maximum, f.step or self.default_step
        widest = FIELD_KINDS[self.name].slider_span
        span = high - low if low is not None and high is not None else None
        if span is not None and widest and 0 < span <= widest and low <= f.value <= high:
            slider = RangeSlider(minimum=low, maximum=high, step=step, value=f.value, **common)
            return FieldWidget(f, self, slider)
        if self.name == "int" and abs(f.value) > JS_SAFE_INT:  # the browser would round it
            return FieldWidget(f, self, gr.Textbox(value=str(f.value), **common))
        precision = 0 if self.name == "int" else None
        number = gr.Number(value=f.value, step=step, precision=precision, **common)
        return FieldWidget(f, self, number)

    def validate(self, f: Field, raw: Any) -> str | None:
        number = parse_int(raw)
        if number is None:
            return f"{f.label}: enter a whole number"
        return _range_error(f, number)

    def coerce(self, f: Field, raw: Any) -> Any:
        return parse_int(raw)


@register
class Float(Int):
    name = "float"
    default_step = 0.01

    def validate(self, f: Field, raw: Any) -> str | None:
        if not is_number(raw):
            return f"{f.label}: enter a number"
        return _range_error(f, float(raw))

    def coerce(self, f: Field, raw: Any) -> Any:
        return float(raw)


@register
class Seed(Int):
    """A 64-bit seed: exact digits in a text box, and what each run does with it (ComfyUI's
    control after generate: randomize, fixed, increment, decrement)."""

    name = "seed"

    def build(self, f: Field, common: dict[str, Any], default_file: Path | None) -> FieldWidget:
        if not common["show_label"]:  # named by its heading: a plain label, level with the mode's
            common = {**common, "label": "Seed", "show_label": True}
        with gr.Row(equal_height=True):
            box = gr.Textbox(value=str(f.value), scale=3, **common)
            mode = gr.Dropdown(
                choices=list(zip(SEED_MODE_LABELS, SEED_MODES, strict=True)), value=f.seed_mode, label="Each run", scale=2,
                min_width=150, filterable=False, elem_classes=["vc-seed-mode"], elem_id=f"{common['elem_id']}-mode",
            )  # fmt: skip
        return FieldWidget(f, self, box, mode=mode)

    def reset(self, f: Field, default_file: Path | None) -> Any:
        return str(f.value)


@register
class Color(Kind):
    """An int holding 0xRRGGBB (``display: color``, e.g. EmptyImage.color): a colour picker."""

    name = "color"

    def build(self, f: Field, common: dict[str, Any], default_file: Path | None) -> FieldWidget:
        return FieldWidget(f, self, gr.ColorPicker(value=self.reset(f, None), **common))

    def reset(self, f: Field, default_file: Path | None) -> Any:
        return color_hex(int(f.value))

    def validate(self, f: Field, raw: Any) -> str | None:
        return None if parse_color(raw) is not None else f"{f.label}: choose a colour"

    def coerce(self, f: Field, raw: Any) -> Any:
        return parse_color(raw)


def parse_color(raw: Any) -> int | None:
    """``0xRRGGBB`` from a colour picker's ``#rrggbb`` / ``rgb(a)(...)``, or an int as is."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if not isinstance(raw, str):
        return None
    try:
        r, g, b, *_ = ImageColor.getrgb(raw.strip())
    except ValueError:
        return None
    return (r << 16) | (g << 8) | b


def color_hex(value: int) -> str:
    """``#rrggbb`` for an int colour."""
    return f"#{value & 0xFFFFFF:06x}"


@register
class LoraRow(Kind):
    """rgthree's Power Lora Loader row as a one-row table: on, LoRA file, strength."""

    name = "lora"
    headers: ClassVar[list[str]] = ["On", "LoRA", "Strength"]

    @property
    def takes_info(self) -> bool:
        return False

    def build(self, f: Field, common: dict[str, Any], default_file: Path | None) -> FieldWidget:
        plain = {k: v for k, v in common.items() if k != "info"}
        table = gr.Dataframe(
            value=self.reset(f, default_file), headers=self.headers, type="array",
            datatype=["bool", "str", "number"], row_count=(1, "fixed"), column_count=(3, "fixed"),
            interactive=True, **plain,
        )  # fmt: skip
        return FieldWidget(f, self, table)

    def reset(self, f: Field, default_file: Path | None) -> Any:
        return [[f.value["on"], f.value["lora"], f.value["strength"]]]

    def validate(self, f: Field, raw: Any) -> str | None:
        row = _lora_row(raw)
        if row is None:
            return f"{f.label}: give one row: on, a LoRA file name and a strength"
        if not _is_number_text(row[2]):
            return f"{f.label}: the strength must be a number"
        return None

    def coerce(self, f: Field, raw: Any) -> Any:
        on, lora, strength = _lora_row(raw) or (False, "", 0)
        on = on if isinstance(on, bool) else str(on).strip().lower() == "true"
        return {**f.value, "on": on, "lora": str(lora), "strength": float(strength)}


def _lora_row(raw: Any) -> tuple[Any, Any, Any] | None:
    rows = raw.get("data") if isinstance(raw, dict) else raw
    if not isinstance(rows, list) or len(rows) != 1 or len(rows[0]) != 3:
        return None
    on, lora, strength = rows[0]
    return (on, lora, strength) if str(lora).strip() else None


def _is_number_text(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


# --- uploads ---------------------------------------------------------------------------------


class Media(Kind):
    """An upload showing the workflow's own file when known; sent only when it differs."""

    def component(self, value: str | None, common: dict[str, Any]) -> gr.components.Component:
        raise NotImplementedError

    def build(self, f: Field, common: dict[str, Any], default_file: Path | None) -> FieldWidget:
        """The upload, then its help or warning as a caption (uploads take no `info`)."""
        value = self.reset(f, default_file)
        plain = {k: v for k, v in common.items() if k != "info"}
        component = self.component(value, plain)
        if common.get("info"):
            gr.HTML(
                f'<p class="vc-help">{html.escape(common["info"])}</p>',
                elem_id="help-" + common["elem_id"].removeprefix("field-"), padding=False,
            )  # fmt: skip
        return FieldWidget(f, self, component, default_file=default_file)

    def reset(self, f: Field, default_file: Path | None) -> Any:
        return str(default_file) if default_file else None

    def upload(self, raw: Any, default_file: Path | None, workdir: Path) -> Path | None:
        """The file to send for this value, or None (no file, or the workflow's own).

        Reads files, and may write one into `workdir`: called at the edge, when a run starts.
        """
        if not raw:
            return None
        path = Path(raw)
        return None if _same_file(path, default_file) else path


@register
class Image(Media):
    name = "image"

    def component(self, value: str | None, common: dict[str, Any]) -> gr.components.Component:
        return ReadableImage(  # image_mode=None and PNG keep the upload's transparency
            value=value, type="filepath", image_mode=None, format="png",
            sources=["upload", "clipboard"], height=MEDIA_HEIGHT, **common,
        )  # fmt: skip

    def validate(self, f: Field, raw: Any) -> str | None:
        return unreadable_error(f, raw)


@register
class Video(Media):
    name = "video"

    def component(self, value: str | None, common: dict[str, Any]) -> gr.components.Component:
        return gr.Video(value=value, sources=["upload"], height=MEDIA_HEIGHT, **common)


@register
class Audio(Media):
    name = "audio"

    def component(self, value: str | None, common: dict[str, Any]) -> gr.components.Component:
        return gr.Audio(value=value, type="filepath", sources=["upload"], **common)


@register
class ImageMask(Media):
    """An image with a painted mask, as ComfyUI's mask editor makes it: the PNG sent is
    transparent where painted (so LoadImage's MASK is the painted area); alpha it already had
    is kept elsewhere."""

    name = "image-mask"

    def component(self, value: str | None, common: dict[str, Any]) -> gr.components.Component:
        return ReadableImageEditor(
            value=value, type="pil", image_mode="RGBA", format="png", sources=["upload"],
            brush=gr.Brush(colors=[("#ff00ff", 0.6)], color_mode="fixed"), layers=False,
            transforms=(), height=MEDIA_HEIGHT * 2, **common,
        )  # fmt: skip

    def validate(self, f: Field, raw: Any) -> str | None:
        return unreadable_error(f, raw)

    def upload(self, raw: Any, default_file: Path | None, workdir: Path) -> Path | None:
        background = raw.get("background") if isinstance(raw, dict) else None
        if background is None:
            return None
        image = background.convert("RGBA")
        painted = [layer for layer in raw.get("layers") or [] if layer.getbbox() is not None]
        if not painted and default_file and _same_pixels(image, default_file):
            return None
        alpha = image.getchannel("A")
        for layer in painted:
            if layer.size == image.size:  # painted pixels (alpha > 0) become transparent
                alpha = ImageChops.darker(alpha, ImageOps.invert(_painted(layer)))
        image.putalpha(alpha)
        workdir.mkdir(parents=True, exist_ok=True)
        path, handle = unique_file(workdir, "mask.png")  # each mask field keeps its own file
        with handle:
            image.save(handle, format="PNG")
        return path


def unreadable_error(f: Field, raw: Any) -> str | None:
    if isinstance(raw, Unreadable):
        return f"{f.label}: {raw.name!r} is not a readable image; upload a PNG, JPEG or WebP"
    return None


def _painted(layer: PILImage.Image) -> PILImage.Image:
    """255 where the layer has paint, else 0."""
    return layer.convert("RGBA").getchannel("A").point(lambda a: 255 if a else 0)


def _same_pixels(image: PILImage.Image, path: Path) -> bool:
    with PILImage.open(path) as own:
        return own.convert("RGBA").tobytes() == image.tobytes()


def _same_file(path: Path, default: Path | None) -> bool:
    if default is None or not default.is_file() or not path.is_file():
        return False
    return _digest(path) == _digest(default)


def _digest(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
