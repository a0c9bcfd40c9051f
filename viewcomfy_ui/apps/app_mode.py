"""ComfyUI App Mode (frontend 1.41+): the inputs and outputs an author picked. Pure.

The UI-format file keeps them in ``extra.linearData`` (read from Comfy-Org/ComfyUI_frontend:
``src/stores/appModeStore.ts`` at 0420d4d2d5a7, ``src/platform/workflow/management/stores/
comfyWorkflow.ts`` at 094fbf00e0b0, ``src/types/widgetId.ts`` at 0393c1dd21a7,
``src/renderer/extensions/linearMode/LinearControls.vue`` at 00cfb70ad122)::

    "linearData": {"inputs": [[<node>, <widget name>, {"height": ...}?], ...],
                   "outputs": [<node id>, ...]}

`<node>` is a node id (number or string) of the root graph; ``"outer:inner"`` for a node inside
a subgraph instance; a bare id of a node inside a subgraph (older files: the instance whose
input reaches that widget is meant, when there is one); or a widget id
``"<graph uuid>:<node id>:<name>"`` (newer files; parts URI-encoded). A widget of a subgraph
instance is the subgraph input of that name, i.e. the inner widget its link reaches. Entries
that name nothing are dropped, as the frontend does. The form shows the picks in order, each
consecutive run of one node under that node's title, each labelled as the node labels the
widget (its slot's ``label``, else the widget name).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import unquote

from ..curated import CuratedWorkflow
from ..workflow import Workflow, flatten, is_link, node_title, workflow_title
from .form import AppInput, curated_form

WIDGET_ID = re.compile(r"^([^:]+):([^:]+):([^:]+)$")
SUBGRAPH_INPUT = -10  # the origin id of a link from a subgraph's inputs, inside the subgraph

UiNode = Mapping[str, Any]


def read_app_mode(
    ui: Mapping[str, Any], api: Mapping[str, Mapping[str, Any]], *, name: str = "workflow"
) -> CuratedWorkflow | None:
    """The App Mode form of a UI-format workflow, or None when none of its picked inputs is
    there (App Mode then shows every widget, as the inferred form does).

    `api` is the API prompt made from `ui` (same node ids, ``"outer:inner"`` inside subgraphs;
    widget names are input names).
    """
    extra = ui.get("extra")
    linear = extra.get("linearData") if isinstance(extra, Mapping) else None
    if not isinstance(linear, Mapping):
        return None
    entries = [e for e in linear.get("inputs") or [] if isinstance(e, list) and len(e) >= 2]
    outputs = [str(o) for o in linear.get("outputs") or [] if isinstance(o, str | int)]
    graph = _Graph(ui)
    picks = []
    for entry in entries:
        found = graph.locate(entry[0], str(entry[1]))
        if found is None:
            continue
        path, widget, label = found
        node = api.get(path)
        value = (node.get("inputs") or {}).get(widget) if node else None
        if value is None or is_link(value) or isinstance(value, Mapping | list):
            continue  # a widget fed by a link (or gone from the prompt): nothing to show
        group = str(node_title(node) or path)
        picks.append(AppInput(path, widget, label, group=group, group_key=path))
    if not picks:
        return None  # App Mode then shows every widget: so does the inferred form
    workflow = Workflow(params=flatten(api), api={k: dict(v) for k, v in api.items()}, name=name)
    title = workflow_title(replace(workflow, name=name.removesuffix(".json").removesuffix(".app")))
    return curated_form(workflow, picks, title=title, outputs=_outputs(outputs, api))


def _outputs(ids: list[str], api: Mapping[str, Any]) -> tuple[str, ...]:
    """Output node ids in the prompt: a subgraph instance stands for its inner nodes."""
    found: list[str] = []
    for node_id in ids:
        inner = [k for k in api if k.startswith(f"{node_id}:")]
        found.extend([node_id] if node_id in api else inner)
    return tuple(found)


class _Graph:
    """The UI graph: root nodes, subgraph definitions, and paths through instances."""

    def __init__(self, ui: Mapping[str, Any]) -> None:
        self.root_id = str(ui.get("id") or "")
        self.root = _by_id(ui.get("nodes"))
        definitions = ui.get("definitions")
        subgraphs = definitions.get("subgraphs") if isinstance(definitions, Mapping) else None
        self.subgraphs = {
            str(s.get("id")): s for s in subgraphs or [] if isinstance(s, Mapping) and s.get("id")
        }

    def locate(self, stored: Any, widget: str) -> tuple[str, str, str] | None:
        """(prompt node id, input name, label) of one App Mode entry, or None."""
        if isinstance(stored, str) and (match := WIDGET_ID.match(stored)):
            graph_id, node_id, name = match[1], unquote(match[2]), unquote(match[3])
            if graph_id in self.subgraphs:  # a node inside a definition: through its one instance
                return self._inside(graph_id, node_id, name)
            if graph_id == self.root_id or not graph_id.isdigit():
                return self._at(node_id, name)
        path = str(stored)
        return self._at(path, widget) or (None if ":" in path else self._inside_any(path, widget))

    def _at(self, path: str, widget: str) -> tuple[str, str, str] | None:
        node = self._node(path)
        if node is None:
            return None
        definition = self.subgraphs.get(str(node.get("type")))
        if definition is not None:  # an instance's widget is its subgraph input of that name
            return self._through(path, node, definition, widget)
        return path, widget, _slot_label(node, widget) or widget

    def _through(
        self, path: str, instance: UiNode, definition: Mapping[str, Any], widget: str
    ) -> tuple[str, str, str] | None:
        slot = next((s for s in definition.get("inputs") or [] if s.get("name") == widget), None)
        if slot is None:
            return None
        inner = _by_id(definition.get("nodes"))
        for link in _links(definition):
            if link["id"] in (slot.get("linkIds") or []) and link["origin_id"] == SUBGRAPH_INPUT:
                target = inner.get(str(link["target_id"]))
                name = _slot_widget(target, link["target_slot"]) if target else None
                found = self._at(f"{path}:{link['target_id']}", name) if name else None
                if found is not None:
                    label = _slot_label(instance, widget) or slot.get("label") or found[2]
                    return found[0], found[1], str(label)
        return None

    def _inside(self, graph_id: str, node_id: str, widget: str) -> tuple[str, str, str] | None:
        instances = [i for i, n in self.root.items() if str(n.get("type")) == graph_id]
        if len(instances) != 1:
            return None
        return self._at(f"{instances[0]}:{node_id}", widget)

    def _inside_any(self, node_id: str, widget: str) -> tuple[str, str, str] | None:
        """An older file's bare id of a node inside a subgraph: the one instance that shows
        that widget, through a subgraph input linked to it or as a promoted widget (its
        ``properties.proxyWidgets``); the frontend drops the entry when none or several do."""
        matches: dict[str, tuple[str, str, str]] = {}
        for instance_id, instance in self.root.items():
            definition = self.subgraphs.get(str(instance.get("type")))
            if definition is None:
                continue
            path = f"{instance_id}:{node_id}"
            for slot in definition.get("inputs") or []:
                found = self._through(instance_id, instance, definition, slot.get("name"))
                if found and found[0] == path and found[1] == widget:
                    matches.setdefault(path, found)
            properties = instance.get("properties")
            proxied = properties.get("proxyWidgets") if isinstance(properties, Mapping) else None
            if [node_id, widget] in [[str(p[0]), p[1]] for p in proxied or [] if len(p) == 2]:
                found = self._at(path, widget)
                if found is not None:
                    matches.setdefault(path, found)
        return next(iter(matches.values())) if len(matches) == 1 else None

    def _node(self, path: str) -> UiNode | None:
        """The UI node at a prompt path such as ``"12"`` or ``"12:5"`` (nested: ``"a:b:c"``)."""
        nodes: Mapping[str, UiNode] = self.root
        node = None
        for part in path.split(":"):
            if node is not None:
                definition = self.subgraphs.get(str(node.get("type")))
                if definition is None:
                    return None
                nodes = _by_id(definition.get("nodes"))
            node = nodes.get(part)
            if node is None:
                return None
        return node


def _by_id(nodes: Any) -> dict[str, UiNode]:
    return {str(n["id"]): n for n in nodes or [] if isinstance(n, Mapping) and "id" in n}


def _links(definition: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A definition's links as objects (files write them as objects or as 6-item lists)."""
    links = []
    for link in definition.get("links") or []:
        if isinstance(link, Mapping):
            links.append(dict(link))
        elif isinstance(link, list) and len(link) >= 5:
            keys = ("id", "origin_id", "origin_slot", "target_id", "target_slot")
            links.append(dict(zip(keys, link[:5], strict=True)))
    return links


def _slot_widget(node: UiNode, index: int) -> str | None:
    """The widget name of a node's input slot (a widget input), else None."""
    slots = node.get("inputs") or []
    slot = slots[index] if 0 <= index < len(slots) else None
    widget = slot.get("widget") if isinstance(slot, Mapping) else None
    return str(widget.get("name") or slot.get("name")) if isinstance(widget, Mapping) else None


def _slot_label(node: UiNode, widget: str) -> str | None:
    """The label the author gave a node's widget (its input slot's ``label``)."""
    for slot in node.get("inputs") or []:
        named = (slot.get("widget") or {}).get("name") or slot.get("name")
        if named == widget and slot.get("label"):
            return str(slot["label"])
    return None
