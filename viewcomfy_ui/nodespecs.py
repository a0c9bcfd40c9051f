"""Node input declarations: from a ComfyUI ``/object_info`` dict, or the bundled ones.

The bundled ``data/core_nodes.json`` is derived (types, ranges, defaults, choices only) from
ComfyUI 0.3.64's ``/object_info`` by ``scripts/build_core_nodes.py``; ``data/custom_nodes.json``
likewise from the most used custom node packs installed in that ComfyUI, by
``scripts/build_custom_nodes.py`` (packs, commits and licences: ``data/CUSTOM_NODES_LICENSES.md``).
A choice list that was empty on that model-less server (model files, input files) is bundled as
an *open* list: ``["COMBO", {"options": [], "open": true}]``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from .media import extension_kind as media_kind_of

SCALAR_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
UPLOAD_NAMES = ("image", "audio", "video")  # input names a loader's upload widget may have


@dataclass(frozen=True)
class InputSpec:
    """One declared input: `type` is INT/FLOAT/STRING/BOOLEAN/COMBO or a socket type."""

    type: str
    options: Mapping[str, Any] = field(default_factory=dict)
    choices: tuple[Any, ...] | None = None

    @property
    def is_widget(self) -> bool:
        return self.type in SCALAR_TYPES

    @property
    def open_choices(self) -> bool:
        """A list of files that differs per server (models, inputs): any value may be right."""
        return bool(self.options.get("open"))

    @property
    def upload(self) -> str | None:
        """``image``, ``audio`` or ``video`` for upload inputs, else None."""
        for kind in ("image", "audio", "video"):
            if self.options.get(f"{kind}_upload"):
                return kind
        return None


@dataclass(frozen=True)
class NodeSpec:
    class_type: str
    display_name: str
    category: str
    output_node: bool
    inputs: Mapping[str, InputSpec]
    required: frozenset[str]
    order: tuple[str, ...] = ()  # input names in declaration order, where known
    # combo input -> choice -> the inputs that choice adds (VideoHelperSuite's `formats`)
    formats: Mapping[str, Mapping[str, Mapping[str, InputSpec]]] = field(default_factory=dict)

    def chosen_inputs(self, saved: Mapping[str, Any]) -> dict[str, InputSpec]:
        """The inputs the saved choices add: VHS_VideoCombine's ``pix_fmt``, ``crf``... belong
        to its chosen ``format``, and ``/object_info`` declares them only in that option."""
        added: dict[str, InputSpec] = {}
        for name, by_choice in self.formats.items():
            chosen = saved.get(name)
            if isinstance(chosen, str):
                added.update(by_choice.get(chosen) or {})
        return added

    def sort_inputs(self, names: list[str]) -> list[str]:
        """`names` in declaration order; names whose place is not known follow, as given."""
        place = {name: i for i, name in enumerate(self.order)}
        return sorted(names, key=lambda name: place.get(name, len(place)))


class NodeSpecs:
    """A lookup of node declarations by class_type, parsed from ``/object_info`` on first use.

    Classes it does not declare are looked up in `fallback` (e.g. core, then custom packs).
    """

    def __init__(self, object_info: Mapping[str, Any], fallback: NodeSpecs | None = None) -> None:
        self._raw = {k: v for k, v in object_info.items() if isinstance(v, Mapping)}
        self._fallback = fallback
        self._parsed: dict[str, NodeSpec] = {}

    def __contains__(self, class_type: object) -> bool:
        return class_type in self._raw or (
            self._fallback is not None and class_type in self._fallback
        )

    def get(self, class_type: str | None) -> NodeSpec | None:
        if not class_type or class_type not in self._raw:
            return self._fallback.get(class_type) if self._fallback is not None else None
        if class_type not in self._parsed:
            self._parsed[class_type] = _node_spec(class_type, self._raw[class_type])
        return self._parsed[class_type]

    def declared(self, class_type: str) -> tuple[str, list[str], bool]:
        """A class's display name, input names, and whether a server said it comes from a
        custom node pack (``python_module``), read without parsing its declaration."""
        if class_type not in self._raw:
            fallback = self._fallback
            return fallback.declared(class_type) if fallback else (class_type, [], False)
        info = self._raw[class_type]
        sections = info.get("input") if isinstance(info.get("input"), Mapping) else {}
        names = [n for s in ("required", "optional") for n in (sections.get(s) or {})]
        custom = str(info.get("python_module") or "").startswith("custom_nodes")
        return info.get("display_name") or class_type, names, custom

    def class_types(self, level: int = 0) -> Iterator[tuple[int, str]]:
        """Every declared class name with its lookup level (0: this lookup, 1: its fallback...);
        a name the fallback also declares comes twice."""
        for class_type in self._raw:
            yield level, class_type
        if self._fallback is not None:
            yield from self._fallback.class_types(level + 1)

    @classmethod
    def from_object_info(
        cls, object_info: Mapping[str, Any], fallback: NodeSpecs | None = None
    ) -> NodeSpecs:
        """Wrap a ComfyUI ``/object_info`` response (classes are parsed when looked up)."""
        return cls(object_info, fallback)


def _node_spec(class_type: str, info: Mapping[str, Any]) -> NodeSpec:
    declared = info.get("input") or {}
    inputs: dict[str, InputSpec] = {}
    required: set[str] = set()
    formats: dict[str, dict[str, dict[str, InputSpec]]] = {}
    for section in ("required", "optional"):
        for name, spec in (declared.get(section) or {}).items():
            inputs[name] = _frontend_upload(class_type, name, _input_spec(spec))
            if section == "required":
                required.add(name)
            if inputs[name].type == "COMBO" and isinstance(
                inputs[name].options.get("formats"), Mapping
            ):
                formats[name] = _format_inputs(inputs[name].options["formats"])
    return NodeSpec(
        class_type=class_type,
        display_name=info.get("display_name") or class_type,
        category=info.get("category") or "",
        output_node=bool(info.get("output_node")),
        inputs=inputs,
        required=frozenset(required),
        order=_declared_order(info, inputs),
        formats=formats,
    )


def _format_inputs(formats: Mapping[str, Any]) -> dict[str, dict[str, InputSpec]]:
    """``{"video/h264-mp4": [["pix_fmt", [choices]], ["crf", "INT", {...}]]}`` parsed: each
    widget is ``[name, *its declaration]``."""
    return {
        choice: {
            w[0]: _input_spec(list(w[1:])) for w in widgets if isinstance(w, list | tuple) and w
        }
        for choice, widgets in formats.items()
        if isinstance(widgets, list | tuple)
    }


def _frontend_upload(class_type: str, name: str, spec: InputSpec) -> InputSpec:
    """A custom loader's file list the frontend shows as an upload (VHS_LoadVideo.video,
    VHS_LoadAudioUpload.audio): a COMBO named ``video``, ``audio`` or ``image`` of a class that
    loads, whose choices (the server's input files) are all media files, or none."""
    if spec.type != "COMBO" or spec.upload or name not in UPLOAD_NAMES:
        return spec
    if "load" not in class_type.lower():
        return spec
    if any(media_kind_of(str(c)) not in UPLOAD_NAMES for c in spec.choices or ()):
        return spec
    return InputSpec(spec.type, {**spec.options, f"{name}_upload": True}, spec.choices)


def _declared_order(info: Mapping[str, Any], inputs: Mapping[str, InputSpec]) -> tuple[str, ...]:
    """The inputs' declaration order: ComfyUI's ``input_order`` (required, then optional; a
    section it leaves out is not known), else the order of the declaration's keys."""
    given = info.get("input_order")
    if not isinstance(given, Mapping):
        return tuple(inputs)
    names = [n for s in ("required", "optional") for n in given.get(s) or () if n in inputs]
    return tuple(dict.fromkeys(names))


def _input_spec(spec: Any) -> InputSpec:
    if not isinstance(spec, list | tuple) or not spec:
        return InputSpec(type="*")
    head = spec[0]
    options = spec[1] if len(spec) > 1 and isinstance(spec[1], Mapping) else {}
    if isinstance(head, list | tuple):  # legacy combo: [[choices...], {...}]
        return InputSpec(type="COMBO", options=options, choices=tuple(head))
    if head == "COMBO":  # V3 combo: ["COMBO", {"options": [...]}]
        return InputSpec(type="COMBO", options=options, choices=tuple(options.get("options") or ()))
    return InputSpec(type=str(head), options=options)


def _bundled_object_info(filename: str) -> dict[str, Any]:
    """A bundled declarations file, in ComfyUI's ``/object_info`` shape."""
    text = resources.files("viewcomfy_ui").joinpath(f"data/{filename}").read_text("utf-8")
    return {
        name: {
            "display_name": node["display_name"],
            "category": node["category"],
            "output_node": node["output_node"],
            "input": {
                "required": {k: node["inputs"][k] for k in node["required"] if k in node["inputs"]},
                "optional": {k: v for k, v in node["inputs"].items() if k not in node["required"]},
            },
            "input_order": {"required": node["required"], "optional": node.get("optional")},
        }
        for name, node in json.loads(text).items()
    }


@cache
def core_object_info() -> dict[str, Any]:
    """The bundled core node declarations, in ComfyUI's ``/object_info`` shape (shared: do not modify)."""
    return _bundled_object_info("core_nodes.json")


@cache
def custom_object_info() -> dict[str, Any]:
    """The bundled declarations of the most used custom node packs (shared: do not modify)."""
    return _bundled_object_info("custom_nodes.json")


@cache
def core_specs() -> NodeSpecs:
    """The bundled declarations of ComfyUI's core nodes."""
    return NodeSpecs.from_object_info(core_object_info())


@cache
def bundled_specs() -> NodeSpecs:
    """Every bundled declaration: ComfyUI's core nodes, then the bundled custom node packs."""
    return NodeSpecs.from_object_info(
        core_object_info(), fallback=NodeSpecs.from_object_info(custom_object_info())
    )
