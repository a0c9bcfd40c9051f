"""The widgets ComfyUI's frontend (1.27) gives a node, in order, from its declaration. Pure.

A UI-format file saves a node's widget values as a list (``widgets_values``) that follows this
order; the API prompt holds only some of them. Besides the declared widget inputs the frontend
adds: a seed control (``control_after_generate``, plus ``control_filter_list`` for a combo)
after an INT named ``seed``/``noise_seed`` or any input that asks for one, the upload buttons of
image/video/audio pickers, and an audio player (``audioUI``) or text preview on a few nodes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Input types the frontend draws as widgets (scripts/widgets.ts and core extensions).
WIDGET_TYPES = {
    "INT", "FLOAT", "BOOLEAN", "STRING", "MARKDOWN", "COMBO", "IMAGEUPLOAD", "FILEUPLOAD",
    "COLOR", "IMAGECOMPARE", "TREESELECT", "MULTISELECT", "CHART", "GALLERIA", "SELECTBUTTON",
    "TEXTAREA", "AUDIO_UI", "AUDIOUPLOAD", "WEBCAM", "LOAD_3D", "LOAD_3D_ANIMATION",
    "PREVIEW_3D", "PREVIEW_3D_ANIMATION",
}  # fmt: skip
SEED_NAMES = ("seed", "noise_seed")
AUDIO_UI_NODES = {"LoadAudio", "SaveAudio", "PreviewAudio", "SaveAudioMP3", "SaveAudioOpus"}
UPLOAD_FLAGS = ("image_upload", "video_upload", "animated_image_upload")
# Nodes whose core extensions add widgets of their own: all their widgets, as the frontend
# creates them, (name, saved, sent, value); value None for a declared input (its declaration
# gives it). Measured with ``scripts/make_ui_truth.py --widgets``.
_LOAD_3D = (
    ("model_file", True, True, None), ("upload 3d model", True, True, "upload3dmodel"),
    ("upload extra resources", True, True, "uploadExtraResources"),
    ("clear", True, True, "clear"), ("image", True, True, ""),
    ("width", True, True, None), ("height", True, True, None),
)  # fmt: skip
_PREVIEW_3D = (("model_file", True, True, None), ("image", True, True, ""))
FRONTEND_WIDGETS: dict[str, tuple[tuple[str, bool, bool, Any], ...]] = {
    "Load3D": _LOAD_3D,
    "Load3DAnimation": _LOAD_3D,
    "Preview3D": _PREVIEW_3D,
    "Preview3DAnimation": _PREVIEW_3D,
    "SaveGLB": (("filename_prefix", True, True, None), ("image", True, True, "")),
    "LoadImageOutput": (
        ("image", True, True, None),
        ("Auto-refresh after generation", True, False, False),
        ("refresh", True, True, "refresh"),
        ("upload", True, False, "image"),
    ),
    "RecordAudio": (("audio", True, True, ""), ("audio", True, False, "")),
    "WebcamCapture": (
        ("image", True, True, None),
        ("width", True, True, None),
        ("height", True, True, None),
        ("capture_on_queue", True, True, None),
        ("waiting for camera...", True, False, None),
    ),
    "PreviewAny": (("preview", False, True, ""),),
}


@dataclass(frozen=True)
class Widget:
    """One widget of a node: `saved` in ``widgets_values`` (by position), `sent` in the prompt."""

    name: str
    saved: bool = True
    sent: bool = True
    default: Any = None
    spec: tuple[Any, ...] = ()  # the declaration: (type, options)
    control_of: str | None = None  # the widget a seed control drives

    @property
    def options(self) -> Mapping[str, Any]:
        return self.spec[1] if len(self.spec) > 1 and isinstance(self.spec[1], Mapping) else {}


def declared_inputs(info: Mapping[str, Any]) -> list[tuple[str, tuple[Any, ...], bool]]:
    """``(name, declaration, optional)`` in the frontend's order: ``input_order`` (required,
    then optional), then whatever it leaves out, as declared."""
    declared = info.get("input") or {}
    entries: dict[str, tuple[tuple[Any, ...], bool]] = {}
    for section in ("required", "optional"):
        for name, spec in (declared.get(section) or {}).items():
            spec = tuple(spec) if isinstance(spec, list | tuple) else ()
            entries.setdefault(name, (spec, section == "optional"))
    order = info.get("input_order")
    names: list[str] = []
    if isinstance(order, Mapping):
        for section, optional in (("required", False), ("optional", True)):
            for name in order.get(section) or ():
                if name in entries and entries[name][1] == optional and name not in names:
                    names.append(name)
    names += [name for name in entries if name not in names]
    return [(name, *entries[name]) for name in names]


def widget_type(spec: tuple[Any, ...]) -> str:
    """COMBO for a choice list, else the declared type."""
    head = spec[0] if spec else "*"
    return "COMBO" if isinstance(head, list | tuple) else str(head)


def is_widget_input(spec: tuple[Any, ...]) -> bool:
    options = spec[1] if len(spec) > 1 and isinstance(spec[1], Mapping) else {}
    kind = options.get("widgetType") or widget_type(spec)
    return kind in WIDGET_TYPES and not options.get("forceInput")


def node_widgets(class_type: str, info: Mapping[str, Any]) -> list[Widget]:
    """The widgets a new node of this class has, in the frontend's order."""
    inputs = declared_inputs(info)
    if class_type in FRONTEND_WIDGETS:
        return _listed_widgets(FRONTEND_WIDGETS[class_type], inputs)
    required = [name for name, _, optional in inputs if not optional]
    extra: list[tuple[str, tuple[Any, ...], bool]] = []
    if class_type in AUDIO_UI_NODES:
        extra.append(("audioUI", ("AUDIO_UI", {}), False))
    specs = dict((name, spec) for name, spec, _ in inputs)
    audio = specs.get("audio", ())
    if len(audio) > 1 and isinstance(audio[1], Mapping) and audio[1].get("audio_upload") is True:
        extra.append(("upload", ("AUDIOUPLOAD", {}), False))
    for name, spec, _ in inputs:
        options = spec[1] if len(spec) > 1 and isinstance(spec[1], Mapping) else {}
        if widget_type(spec) == "COMBO" and any(options.get(f) is True for f in UPLOAD_FLAGS):
            extra.append(("upload", ("IMAGEUPLOAD", {**options, "imageInputName": name}), False))
            break
    # Inputs the frontend adds go to `required`, after those `input_order` names.
    at = len(required)
    ordered = inputs[:at] + [e for e in extra if e[0] not in specs] + inputs[at:]
    widgets: list[Widget] = []
    for name, spec, _ in ordered:
        if not is_widget_input(spec):
            continue
        widgets.extend(_widgets_of(name, spec))
    return widgets


def _listed_widgets(
    listed: tuple[tuple[str, bool, bool, Any], ...], inputs: list[tuple[str, tuple[Any, ...], bool]]
) -> list[Widget]:
    specs = {name: spec for name, spec, _ in inputs}
    widgets = []
    for name, saved, sent, value in listed:
        spec = specs.get(name, ()) if value is None else ()
        default = default_value(spec) if spec else value
        widgets.append(Widget(name, saved=saved, sent=sent, default=default, spec=spec))
    return widgets


def _widgets_of(name: str, spec: tuple[Any, ...]) -> list[Widget]:
    options = spec[1] if len(spec) > 1 and isinstance(spec[1], Mapping) else {}
    kind = options.get("widgetType") or widget_type(spec)
    if kind == "AUDIO_UI":
        return [Widget(name, saved=False, sent=True, default="", spec=spec)]
    if kind in ("IMAGEUPLOAD", "AUDIOUPLOAD"):
        return [Widget(name, saved=True, sent=False, default=None, spec=spec)]
    widget = Widget(name, default=default_value(spec), spec=spec)
    control = options.get("control_after_generate")
    if kind == "INT" and control is None:
        control = name in SEED_NAMES
    if not control or kind not in ("INT", "COMBO"):
        return [widget]
    label = control if isinstance(control, str) else "control_after_generate"
    controls = [Widget(label, sent=False, default="randomize", control_of=name)]
    if kind == "COMBO":
        controls.append(Widget("control_filter_list", sent=False, default="", control_of=name))
    return [widget, *controls]


def default_value(spec: tuple[Any, ...]) -> Any:
    """The value a new widget starts with: the declared default, else the first choice, else
    the type's zero (clamped into the declared range for numbers)."""
    options = spec[1] if len(spec) > 1 and isinstance(spec[1], Mapping) else {}
    if "default" in options:
        return options["default"]
    kind = widget_type(spec)
    if kind == "COMBO":
        choices = spec[0] if isinstance(spec[0], list | tuple) else options.get("options") or []
        return choices[0] if choices else None
    if kind in ("INT", "FLOAT"):
        low = options.get("min", 0)
        return max(low, 0) if isinstance(low, int | float) else 0
    if kind == "BOOLEAN":
        return False
    if kind == "STRING":
        return ""
    return None
