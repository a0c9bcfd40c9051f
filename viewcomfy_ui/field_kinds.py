"""The kinds of form field: the one table that inference (`fields.py`), arrangement
(`arrange.py`), curated forms (`curated.py`) and the page's widgets (`ui/kinds.py`) read. Pure.

Adding a kind is a row here and a widget class registered under its name in ``ui/kinds.py``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KindSpec:
    """What every layer needs to know about one kind of field."""

    name: str
    value_type: str  # the `valueType` a curated form (view_comfy.json) writes for it
    media: bool = False  # an upload: sent as a file, never as a JSON value
    prominent: bool = False  # what a user comes to change: never advanced for its node's category
    slider_span: float | None = None  # a range at most this wide shows as a slider


FIELD_KINDS: dict[str, KindSpec] = {
    spec.name: spec
    for spec in (
        KindSpec("text", "string"),
        KindSpec("textarea", "long-text", prominent=True),
        KindSpec("int", "number", slider_span=256),
        KindSpec("float", "float", slider_span=10.0),
        KindSpec("bool", "boolean"),
        KindSpec("choice", "select"),
        KindSpec("seed", "seed", prominent=True),
        KindSpec("color", "number"),  # an int holding 0xRRGGBB
        KindSpec("image", "image", media=True, prominent=True),
        KindSpec("image-mask", "image-mask", media=True, prominent=True),
        KindSpec("video", "video", media=True, prominent=True),
        KindSpec("audio", "audio", media=True, prominent=True),
        KindSpec("lora", "lora"),  # an rgthree Power Lora Loader row: {"on", "lora", "strength"}
    )
}
MEDIA_KINDS = tuple(name for name, spec in FIELD_KINDS.items() if spec.media)  # the upload kinds
PROMINENT_KINDS = tuple(name for name, spec in FIELD_KINDS.items() if spec.prominent)
