"""ComfyUI's UI-format workflow (``nodes`` + ``links``) to the API prompt, as its frontend
(1.27) makes it with "Export (API)" (``app.graphToPrompt()``). Pure: no I/O.

What the frontend does, and so this: widget values are mapped by position onto each node's
widgets (`ui_widgets`); a linked input takes the link, followed through Reroutes, bypassed nodes
(mode 4) and subgraphs; PrimitiveNode values are written into their targets; muted (mode 2) and
virtual nodes (Note, MarkdownNote, Reroute, PrimitiveNode) are left out, and inputs that pointed
at a node left out are dropped. Subgraph nodes are expanded (``"<instance>:<inner>"`` ids).
Legacy group nodes (``extra.groupNodes``) are expanded as subgraphs (``ui_group_nodes``).
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .errors import WorkflowError
from .ui_group_nodes import as_subgraph
from .ui_widgets import Widget, declared_inputs, is_widget_input, node_widgets

MUTED, BYPASSED = 2, 4
VIRTUAL = {"Note", "MarkdownNote", "Reroute", "PrimitiveNode"}
SUBGRAPH_INPUT, SUBGRAPH_OUTPUT = -10, -20
RENAMED = {
    "T2IAdapterLoader": "ControlNetLoader",
    "ConditioningAverage ": "ConditioningAverage",
    "SDV_img2vid_Conditioning": "SVD_img2vid_Conditioning",
}  # fix-ups the frontend makes on load
SAVE_NODES = {
    "SaveImage", "SaveAnimatedWEBP", "SaveWEBM", "SaveAudio", "SaveGLB", "SaveAnimatedPNG",
    "CLIPSave", "VAESave", "ModelSave", "LoraSave", "SaveLatent",
}  # fmt: skip  # their filename_prefix gets %date:...% and %node.widget% replaced
JS_SAFE_INT = 2**53
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
CONTROL_MODES = ("fixed", "increment", "decrement", "randomize")
FRONTEND_TITLES = {
    "ImageBlend": "Image Blend", "ImageBlur": "Image Blur", "ImageQuantize": "Image Quantize",
    "ImageSharpen": "Image Sharpen", "ImageScaleToTotalPixels": "Scale Image to Total Pixels",
}  # fmt: skip  # titles the frontend's own English names give where /object_info has none


def is_ui_format(data: Mapping[str, Any]) -> bool:
    """ComfyUI's UI save: a ``nodes`` list and ``links``."""
    return isinstance(data.get("nodes"), list) and "links" in data


@dataclass
class Link:
    origin_id: Any
    origin_slot: int
    target_id: Any
    target_slot: int
    type: Any


@dataclass
class Graph:
    """The root graph or a subgraph definition: nodes and links by id."""

    nodes: dict[Any, Mapping[str, Any]]
    links: dict[Any, Link]

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Graph:
        nodes = {n.get("id"): n for n in data.get("nodes") or () if isinstance(n, Mapping)}
        links = {}
        for raw in data.get("links") or ():
            if isinstance(raw, list | tuple) and len(raw) >= 5:
                links[raw[0]] = Link(*raw[1:5], raw[5] if len(raw) > 5 else "*")
            elif isinstance(raw, Mapping) and "id" in raw:
                links[raw["id"]] = Link(
                    raw.get("origin_id"), raw.get("origin_slot", 0), raw.get("target_id"),
                    raw.get("target_slot", 0), raw.get("type", "*"),
                )  # fmt: skip
        return cls(nodes, links)


@dataclass
class Slot:
    name: str
    type: Any
    link: Any
    widget: str | None  # the widget this input can replace


@dataclass
class Node:
    """One node as the frontend holds it after loading (the DTO of graphToPrompt)."""

    exec_id: str
    raw: Mapping[str, Any]
    graph: Graph
    path: tuple[str, ...]
    instance: Node | None  # the subgraph instance this node is inside
    class_type: str
    inputs: list[Slot]
    widgets: list[Widget] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)  # widget name -> value
    subgraph: Mapping[str, Any] | None = None  # for a subgraph instance: its definition
    inner: Graph | None = None  # and its own copy of the definition's graph

    @property
    def mode(self) -> int:
        return self.raw.get("mode") or 0

    @property
    def title(self) -> str:
        return self.raw.get("title") or ""

    @property
    def virtual(self) -> bool:
        return self.class_type in VIRTUAL or self.subgraph is not None

    def output_type(self, slot: int) -> Any:
        outputs = self.raw.get("outputs") or []
        return outputs[slot].get("type", "*") if 0 <= slot < len(outputs) else "*"


def ui_to_api(ui: Mapping[str, Any], object_info: Mapping[str, Any] | None = None) -> dict:
    """The API prompt ComfyUI's frontend exports for this UI-format graph.

    `object_info` (a ComfyUI ``/object_info``) declares the nodes, the bundled declarations
    those it lacks (a pack the server has not installed still makes a form). Raises
    WorkflowError naming a node whose class none of them know.
    """
    return convert_ui(ui, object_info)[0]


def convert_ui(
    ui: Mapping[str, Any], object_info: Mapping[str, Any] | None = None
) -> tuple[dict, dict[str, str]]:
    """`ui_to_api`'s prompt, and each seed's saved control (``fixed``, ``increment``,
    ``decrement``, ``randomize``) by the seed's flattened key (``"3-inputs-seed"``)."""
    from .nodespecs import core_object_info, custom_object_info

    given = object_info is not None
    object_info = {**custom_object_info(), **core_object_info(), **(object_info or {})}
    converter = _Converter(ui, object_info, given)
    api = converter.convert()
    return api, converter.seed_modes(api)


class _Converter:
    def __init__(self, ui: Mapping[str, Any], object_info: Mapping[str, Any], given: bool) -> None:
        self.ui = ui
        self.object_info = object_info
        self.given = given  # a server's declarations are among `object_info`
        definitions = (ui.get("definitions") or {}).get("subgraphs") or []
        self.subgraphs = {d.get("id"): d for d in definitions if isinstance(d, Mapping)}
        self.root = Graph.parse(ui)
        self.nodes: dict[str, Node] = {}
        self.primitive_modes: dict[tuple[str, str], Any] = {}  # a primitive's control

    def convert(self) -> dict:
        self._expand(self.root, (), None)
        for node in list(self.nodes.values()):
            if node.class_type == "PrimitiveNode" and node.graph is self.root:
                self._apply_primitive(node)
        output: dict[str, dict] = {}
        for node in self.nodes.values():
            if node.virtual or node.mode in (MUTED, BYPASSED):
                continue
            output[node.exec_id] = self._prompt_node(node)
        for entry in output.values():
            inputs = entry["inputs"]
            for name, value in list(inputs.items()):
                if _is_link(value) and value[0] not in output:
                    del inputs[name]
        return output

    # --- building the nodes -------------------------------------------------------------------

    def _expand(self, graph: Graph, path: tuple[str, ...], instance: Node | None) -> None:
        for raw in graph.nodes.values():
            node = self._node(raw, graph, path, instance)
            self.nodes[node.exec_id] = node
            if node.subgraph is not None:
                node.inner = Graph.parse(node.subgraph)
                self._expand(node.inner, (*path, str(raw.get("id"))), node)

    def _node(
        self, raw: Mapping[str, Any], graph: Graph, path: tuple[str, ...], instance: Node | None
    ) -> Node:
        class_type = str(raw.get("type") or "")
        class_type = RENAMED.get(class_type, class_type)
        exec_id = ":".join((*path, str(raw.get("id"))))
        saved = [i for i in raw.get("inputs") or () if isinstance(i, Mapping)]
        if class_type in self.subgraphs:
            definition = self.subgraphs[class_type]
            by_name = {i.get("name"): i for i in saved}
            slots = [
                Slot(d.get("name"), d.get("type"), (by_name.get(d.get("name")) or {}).get("link"), None)
                for d in definition.get("inputs") or ()
            ]  # fmt: skip
            node = Node(exec_id, raw, graph, path, instance, class_type, slots, subgraph=definition)
            node.values = self._promoted_values(node)
            return node
        if class_type in VIRTUAL:
            slots = [_saved_slot(i) for i in saved]
            return Node(exec_id, raw, graph, path, instance, class_type, slots)
        info = self.object_info.get(class_type)
        group = None if isinstance(info, Mapping) else self._group_node(class_type)
        if group is not None:
            definition = as_subgraph(raw, group, self._widgets_of)
            slots = [
                Slot(d.get("name"), d.get("type"), saved[i].get("link") if i < len(saved) else None, None)
                for i, d in enumerate(definition["inputs"])
            ]  # fmt: skip
            return Node(exec_id, raw, graph, path, instance, class_type, slots, subgraph=definition)
        if not isinstance(info, Mapping):
            raise WorkflowError(_unknown_node(raw, class_type, path, self.given))
        node = Node(exec_id, raw, graph, path, instance, class_type, _slots(info, saved))
        node.widgets = node_widgets(class_type, info)
        node.values = _widget_values(node.widgets, raw, info, saved)
        return node

    def _group_node(self, class_type: str) -> Mapping[str, Any] | None:
        """A legacy group node's definition: its type names an entry of ``extra.groupNodes``."""
        groups = (self.ui.get("extra") or {}).get("groupNodes") or {}
        name = re.sub(r"^workflow[>/]", "", class_type)
        group = groups.get(name) if name != class_type else None
        return group if isinstance(group, Mapping) else None

    def _widgets_of(self, class_type: str) -> list[Widget] | None:
        info = self.object_info.get(RENAMED.get(class_type, class_type))
        return node_widgets(class_type, info) if isinstance(info, Mapping) else None

    def _promoted_values(self, node: Node) -> dict[str, Any]:
        """A subgraph instance's widgets: one per input that feeds an inner widget, in input
        order; its saved values map onto them by position."""
        definition = node.subgraph or {}
        inner = Graph.parse(definition)
        names = []
        for index, sub_input in enumerate(definition.get("inputs") or ()):
            for link_id in sub_input.get("linkIds") or ():
                link = inner.links.get(link_id)
                target = inner.nodes.get(link.target_id) if link else None
                if link is None or target is None or link.origin_slot != index:
                    continue
                slot = next(
                    (i for i in target.get("inputs") or () if i.get("link") == link_id), None
                )
                if slot is not None and (slot.get("widget") or self._is_widget(target, slot)):
                    names.append(sub_input.get("name"))
                    break
        values = list(node.raw.get("widgets_values") or [])
        if isinstance(node.raw.get("widgets_values"), Mapping):
            values = []
        return dict(zip(names, values, strict=False))

    def _is_widget(self, raw: Mapping[str, Any], slot: Mapping[str, Any]) -> bool:
        info = self.object_info.get(RENAMED.get(raw.get("type"), raw.get("type")))
        if not isinstance(info, Mapping):
            return False
        specs = {name: spec for name, spec, _ in declared_inputs(info)}
        spec = specs.get(slot.get("name"))
        return spec is not None and is_widget_input(spec)

    def _apply_primitive(self, primitive: Node) -> None:
        """PrimitiveNode.applyToGraph: its value replaces each target widget's value."""
        values = primitive.raw.get("widgets_values")
        if not isinstance(values, list) or not values:
            return
        value = values[0]
        properties = primitive.raw.get("properties") or {}
        if value and properties.get("Run widget replace on values") and isinstance(value, str):
            value = self._replace_text(value)
        outputs = primitive.raw.get("outputs") or []
        link_ids = (outputs[0].get("links") or []) if outputs else []
        for link_id in link_ids:
            link = primitive.graph.links.get(link_id)
            target = self.nodes.get(str(link.target_id)) if link else None
            if target is None:
                continue
            slot = next((s for s in target.inputs if s.link == link_id), None)
            if slot is not None and any(w.name == slot.widget for w in target.widgets):
                target.values[slot.widget] = value
                if len(values) > 1:
                    self.primitive_modes[(target.exec_id, slot.widget)] = values[1]

    def seed_modes(self, api: Mapping[str, Any]) -> dict[str, str]:
        """Each widget's saved control (a primitive's wins), for the widgets left in `api`."""
        modes: dict[str, str] = {}
        for node in self.nodes.values():
            inputs = (api.get(node.exec_id) or {}).get("inputs") or {}
            for widget in node.widgets:
                target = widget.control_of
                if target is None or target not in inputs or _is_link(inputs[target]):
                    continue
                mode = self.primitive_modes.get(
                    (node.exec_id, target), node.values.get(widget.name)
                )
                if isinstance(mode, bool):  # a legacy save: true/false
                    mode = "randomize" if mode else "fixed"
                if mode in CONTROL_MODES:
                    modes[f"{node.exec_id}-inputs-{target}"] = mode
        return modes

    # --- the prompt -----------------------------------------------------------------------------

    def _prompt_node(self, node: Node) -> dict:
        inputs: dict[str, Any] = {}
        for widget in node.widgets:
            if not widget.sent:
                continue
            value = self._serialize(node, widget)
            if value is not None or widget.name in node.values:
                inputs[widget.name] = {"__value__": value} if isinstance(value, list) else value
        for index, slot in enumerate(node.inputs):
            if slot.link is None:
                continue
            resolved = self._resolve_input(node, index, set())
            if resolved is None:
                continue
            if isinstance(resolved, _Value):
                value = resolved.value
                inputs[slot.name] = {"__value__": value} if isinstance(value, list) else value
            else:
                inputs[slot.name] = list(resolved)
        return {
            "inputs": inputs,
            "class_type": node.class_type,
            "_meta": {"title": _title(node, self.object_info)},
        }

    def _serialize(self, node: Node, widget: Widget) -> Any:
        value = node.values.get(widget.name, widget.default)
        if isinstance(value, str) and widget.options.get("dynamicPrompts"):
            return dynamic_prompt(value)
        if (
            isinstance(value, str)
            and widget.name == "filename_prefix"
            and node.class_type in SAVE_NODES
        ):
            return self._replace_text(value)
        return value

    def _replace_text(self, text: str) -> str:
        """The frontend's ``%date:yyyy-MM-dd%`` and ``%<node>.<widget>%`` replacements."""

        def replace(match: re.Match) -> str:
            parts = match.group(1).split(".")
            if len(parts) != 2:
                if parts[0].startswith("date:"):
                    return format_date(parts[0][5:], datetime.now())
                return match.group(0)
            nodes = [n for n in self.nodes.values() if not n.subgraph]
            found = [
                n
                for n in nodes
                if (n.raw.get("properties") or {}).get("Node name for S&R") == parts[0]
            ] or [n for n in nodes if _title(n, self.object_info) == parts[0]]
            widget = (
                next((w for w in found[0].widgets if w.name == parts[1]), None) if found else None
            )
            if widget is None:
                return match.group(0)
            value = found[0].values.get(parts[1], widget.default)
            return re.sub(
                r'[/?<>\\:*|"\x00-\x1F\x7F]', "_", "" if value is None else _js_str(value)
            )

        return re.sub(r"%([^%]+)%", replace, text)

    # --- following links (ExecutableNodeDTO.resolveInput / resolveOutput) ---------------------

    def _resolve_input(self, node: Node, index: int, visited: set, type_: Any = None) -> Any:
        key = (id(node.graph), node.exec_id, "I", index)
        if key in visited:
            raise WorkflowError(
                f"node {node.exec_id} ({node.title or node.class_type}): its links form a loop"
            )
        visited.add(key)
        slot = node.inputs[index] if 0 <= index < len(node.inputs) else None
        if slot is None or slot.link is None:
            return None
        link = node.graph.links.get(slot.link)
        if link is None:
            return None
        instance = node.instance
        if instance is not None and link.origin_id == SUBGRAPH_INPUT:
            outer = (
                instance.inputs[link.origin_slot]
                if 0 <= link.origin_slot < len(instance.inputs)
                else None
            )
            if outer is None:
                return None
            if outer.link is None:
                if outer.name in instance.values:
                    return _Value(instance.values[outer.name])
                return None
            return self._resolve_input(instance, link.origin_slot, visited)
        origin = self.nodes.get(":".join((*node.path, str(link.origin_id))))
        if origin is None:
            return None
        return self._resolve_output(
            origin, link.origin_slot, type_ if type_ is not None else slot.type, visited
        )

    def _resolve_output(self, node: Node, slot: int, type_: Any, visited: set) -> Any:
        key = (id(node.graph), node.exec_id, "O", slot)
        if key in visited:
            raise WorkflowError(
                f"node {node.exec_id} ({node.title or node.class_type}): its links form a loop"
            )
        visited.add(key)
        if node.mode == BYPASSED:
            index = _bypass_slot(node, slot, type_)
            return None if index < 0 else self._resolve_input(node, index, visited)
        if node.subgraph is not None:
            return self._resolve_subgraph_output(node, slot, type_, visited)
        if node.virtual:
            if slot < len(node.inputs):
                return self._resolve_input(node, slot, visited, type_)
            return None
        return (node.exec_id, slot)

    def _resolve_subgraph_output(self, node: Node, slot: int, type_: Any, visited: set) -> Any:
        definition = node.subgraph or {}
        outputs = definition.get("outputs") or []
        if not 0 <= slot < len(outputs):
            return None
        for link_id in outputs[slot].get("linkIds") or ():
            link = node.inner.links.get(link_id) if node.inner else None
            if link is None:
                continue
            origin = self.nodes.get(
                ":".join((*node.path, str(node.raw.get("id")), str(link.origin_id)))
            )
            if origin is None:
                return None
            return self._resolve_output(origin, link.origin_slot, type_, visited)
        return None


@dataclass(frozen=True)
class _Value:
    """A subgraph input left unlinked: the instance's own widget value."""

    value: Any


def _slots(info: Mapping[str, Any], saved: list[Mapping[str, Any]]) -> list[Slot]:
    """The node's inputs after loading: declared sockets, then declared widget inputs (each
    with the link saved under its name), then inputs added by extensions, as saved."""
    by_name = {i.get("name"): i for i in saved}
    declared = declared_inputs(info)
    ordered = [d for d in declared if not is_widget_input(d[1])] + [
        d for d in declared if is_widget_input(d[1])
    ]
    slots = []
    for name, spec, _ in ordered:
        saved_input = by_name.get(name) or {}
        widget = name if is_widget_input(spec) else None
        kind = spec[0] if spec and not isinstance(spec[0], list | tuple) else "COMBO"
        slots.append(Slot(name, kind, saved_input.get("link"), widget))
    known = {d[0] for d in declared}
    slots += [_saved_slot(i) for i in saved if i.get("name") not in known]
    return slots


def _saved_slot(saved: Mapping[str, Any]) -> Slot:
    widget = saved.get("widget")
    name = widget.get("name") if isinstance(widget, Mapping) else None
    return Slot(saved.get("name"), saved.get("type", "*"), saved.get("link"), name)


def _widget_values(
    widgets: list[Widget], raw: Mapping[str, Any], info: Mapping[str, Any], saved: list
) -> dict[str, Any]:
    """LGraphNode.configure: saved values, by position, onto the widgets that are saved (after
    the frontend drops values a legacy file kept for inputs that are sockets now)."""
    values = raw.get("widgets_values")
    if isinstance(values, Mapping):  # some custom nodes save a dict: nothing maps by position
        return {}
    values = list(values or [])
    names = {w.name for w in widgets}
    legacy = [
        (name, spec) for name, spec, _ in declared_inputs(info)
        if name in names or (len(spec) > 1 and isinstance(spec[1], Mapping) and spec[1].get("forceInput"))
    ]  # fmt: skip
    counted = sum(
        2
        if (spec[1] if len(spec) > 1 and isinstance(spec[1], Mapping) else {}).get(
            "control_after_generate"
        )
        or name in ("seed", "noise_seed")
        else 1
        for name, spec in legacy
    )
    if counted == len(values) and any(
        len(spec) > 1 and isinstance(spec[1], Mapping) and spec[1].get("forceInput")
        for _, spec in legacy
    ):
        values = [v for (name, spec), v in zip(legacy, values, strict=False) if name in names]
    result: dict[str, Any] = {}
    saved_widgets = [w for w in widgets if w.saved]
    for widget, value in zip(saved_widgets, values, strict=False):
        result.setdefault(widget.name, _js_number(value))
    class_type = raw.get("type")
    sampler = result.get("sampler_name")
    if class_type in ("KSampler", "KSamplerAdvanced") and isinstance(sampler, str):
        result["sampler_name"] = sampler.removeprefix("sample_")
    return result


def _bypass_slot(node: Node, slot: int, type_: Any) -> int:
    """ExecutableNodeDTO#getBypassSlotIndex: which input a bypassed node passes on."""
    inputs = node.inputs
    if type_ in ("*", "", None, 0):
        return slot if len(inputs) > slot else 0
    output_type = node.output_type(slot)
    if (
        slot < len(inputs)
        and _fits(inputs[slot].type, output_type)
        and _fits(inputs[slot].type, type_)
    ):
        return slot
    for index, slot_input in enumerate(inputs):
        if slot_input.type == type_:
            return index
    for index, slot_input in enumerate(inputs):
        if _fits(slot_input.type, output_type) and _fits(slot_input.type, type_):
            return index
    return -1


def _fits(a: Any, b: Any) -> bool:
    """LiteGraph.isValidConnection."""
    if a in ("", "*", None, 0) or b in ("", "*", None, 0) or a == b:
        return True
    a, b = str(a).lower(), str(b).lower()
    if "," not in a and "," not in b:
        return a == b
    return bool(set(a.split(",")) & set(b.split(",")))


def _is_link(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], str)


def _title(node: Node, object_info: Mapping[str, Any]) -> str:
    """The node's title, else its display name."""
    if node.raw.get("title"):
        return node.raw["title"]
    info = object_info.get(node.class_type) or {}
    return FRONTEND_TITLES.get(node.class_type) or info.get("display_name") or node.class_type


def _unknown_node(
    raw: Mapping[str, Any], class_type: str, path: tuple[str, ...], given: bool
) -> str:
    """Which node, of which pack, and what to do (`given`: a server's declarations were used)."""
    properties = raw.get("properties") or {}
    pack = properties.get("cnr_id") or properties.get("aux_id")
    node_id = ":".join((*path, str(raw.get("id"))))
    title = raw.get("title")
    named = f" ({title!r})" if title and title != class_type else ""
    if not class_type:
        return f"node {node_id}{named} has no type; open the file in ComfyUI and save it again"
    if UUID.fullmatch(class_type):
        return (
            f"node {node_id}{named} is a subgraph whose definition the file lacks "
            "(definitions.subgraphs); save it again with ComfyUI's frontend 1.24 or newer"
        )
    known_by = (
        "neither the given /object_info nor the bundled declarations know"
        if given
        else "the node declarations do not know"
    )
    if pack == "comfy-core":
        newer = "update that ComfyUI" if given else (
            "give --object-info with the /object_info of a ComfyUI that has it (or run it with "
            "--comfyui-url)"
        )  # fmt: skip
        return (
            f"node {node_id}{named} is a {class_type}, a core node of a newer ComfyUI than "
            f"0.3.64, which {known_by}; {newer}"
        )
    source = f"from the node pack {pack!r}" if pack else "from a custom node pack"
    way_out = (
        "install that pack in that ComfyUI (or give the /object_info of one that has it)"
        if given
        else "give --object-info with the /object_info of a ComfyUI that has that pack (or run "
        "it with --comfyui-url)"
    )
    return f"node {node_id}{named} is a {class_type} {source}, which {known_by}; {way_out}"


def _js_number(value: Any) -> Any:
    """A JSON number as JavaScript reads it: integers past 2^53 lose precision."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > JS_SAFE_INT:
        return int(float(value))
    return value


def _js_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def dynamic_prompt(text: str) -> str:
    """The frontend's dynamic prompt: ``//`` and ``/* */`` comments removed, each ``{a|b}``
    replaced by one of its choices at random, ``\\{ \\| \\}`` unescaped."""
    text = re.sub(r"/\*[\s\S]*?\*/|//.*", "", text)
    return _DynamicPrompt(text).parse().replace("\\{", "{").replace("\\}", "}").replace("\\|", "|")


class _DynamicPrompt:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0

    def parse(self) -> str:
        result = ""
        while self.i < len(self.text):
            char = self.text[self.i]
            self.i += 1
            if char == "\\":
                result += self._escape()
            elif char == "{":
                result += self._choice()
            else:
                result += char
        return result

    def _escape(self) -> str:
        nxt = self.text[self.i] if self.i < len(self.text) else "undefined"
        self.i += 1
        return "\\" + nxt

    def _choice(self) -> str:
        options, choice, depth = [], "", 0
        while self.i < len(self.text):
            char = self.text[self.i]
            self.i += 1
            if char == "\\":
                choice += self._escape()
                continue
            if char == "{":
                depth += 1
            elif char == "}":
                if not depth:
                    break
                depth -= 1
            elif char == "|" and not depth:
                options.append(choice)
                choice = ""
                continue
            choice += char
        options.append(choice)
        return _DynamicPrompt(random.choice(options)).parse()  # as the frontend


def format_date(pattern: str, now: datetime) -> str:
    """The frontend's formatDate: yyyy, yy, MM, dd, hh, mm, ss (each also single-letter)."""
    parts = {"d": now.day, "M": now.month, "h": now.hour, "m": now.minute, "s": now.second}

    def replace(match: re.Match) -> str:
        token = match.group(0)
        if token == "yy":
            return str(now.year)[2:]
        if token == "yyyy":
            return str(now.year)
        if token[0] in parts:
            return str(parts[token[0]]).rjust(len(token), "0")
        return token

    return re.sub(r"dd?|MM?|hh?|mm?|ss?|yyy?y?", replace, pattern)
