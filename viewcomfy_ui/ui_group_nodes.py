"""Legacy group nodes (``extra.groupNodes``, the frontend's forerunner of subgraphs) as subgraph
definitions, so `ui_format` expands them the same way. Pure.

A group node ``workflow>Name`` holds the nodes of ``extra.groupNodes.Name`` (ids
``"<group node id>:<index>"``). Its inputs are its nodes' sockets that no inner link feeds, in
node order, then their widget inputs fed from outside; its outputs are its nodes' outputs that no
inner link uses or that are marked ``external``; its saved widget values are its nodes' saved
widget values, in node order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .ui_widgets import Widget

GROUP_INPUT, GROUP_OUTPUT = -10, -20  # as a subgraph's input and output nodes


def as_subgraph(
    instance: Mapping[str, Any],
    group: Mapping[str, Any],
    widgets_of: Callable[[str], list[Widget] | None],
) -> dict[str, Any]:
    """A subgraph definition (``inputs``, ``outputs``, ``nodes``, ``links``) for one instance
    of a group node, with the instance's widget values written into its inner nodes."""
    inner = [dict(n) for n in group.get("nodes") or () if isinstance(n, Mapping)]
    links = [
        list(raw)
        for raw in group.get("links") or ()
        if isinstance(raw, list | tuple) and len(raw) >= 4
    ]
    fed = {(link[2], link[3]): link for link in links}  # (target index, target slot) -> link
    sockets, widget_inputs = [], []
    for index, node in enumerate(inner):
        for slot, saved in enumerate(node.get("inputs") or ()):
            link = fed.get((index, slot))
            if saved.get("widget"):
                if link is not None and link[0] is None:
                    widget_inputs.append((index, slot, saved))
            elif link is None or link[0] is None:
                sockets.append((index, slot, saved))
    group_inputs = sockets + widget_inputs
    external = {(e[0], e[1]) for e in group.get("external") or () if isinstance(e, list | tuple)}
    used = {(link[0], link[1]) for link in links if link[0] is not None}
    outputs = [
        (index, slot)
        for index, node in enumerate(inner)
        for slot, _ in enumerate(node.get("outputs") or ())
        if (index, slot) not in used or (index, slot) in external
    ]
    sub_links, link_id = [], 0
    for position, (index, slot, _) in enumerate(group_inputs):
        link_id += 1
        sub_links.append(_link(link_id, GROUP_INPUT, position, index, slot))
        _set_link(inner[index], slot, link_id)
    for origin, origin_slot, target, target_slot, *_ in links:
        if origin is None:
            continue
        link_id += 1
        sub_links.append(_link(link_id, origin, origin_slot, target, target_slot))
        _set_link(inner[target], target_slot, link_id)
    sub_outputs = []
    for position, (index, slot) in enumerate(outputs):
        link_id += 1
        sub_links.append(_link(link_id, index, slot, GROUP_OUTPUT, position))
        sub_outputs.append({"linkIds": [link_id]})
    _write_widget_values(inner, instance.get("widgets_values"), widgets_of)
    for index, node in enumerate(inner):
        node["id"] = index
    return {
        "inputs": [{"name": s.get("name"), "type": s.get("type")} for _, _, s in group_inputs],
        "outputs": sub_outputs,
        "nodes": inner,
        "links": sub_links,
    }


def _link(link_id: int, origin: Any, origin_slot: int, target: Any, target_slot: int) -> dict:
    return {
        "id": link_id, "origin_id": origin, "origin_slot": origin_slot,
        "target_id": target, "target_slot": target_slot,
    }  # fmt: skip


def _set_link(node: dict[str, Any], slot: int, link_id: int) -> None:
    inputs = [dict(i) for i in node.get("inputs") or ()]
    if 0 <= slot < len(inputs):
        inputs[slot]["link"] = link_id
    node["inputs"] = inputs


def _write_widget_values(
    inner: list[dict[str, Any]], values: Any, widgets_of: Callable[[str], list[Widget] | None]
) -> None:
    """The instance's saved values, in order, onto its nodes' saved widgets."""
    if not isinstance(values, list):
        return
    queue = iter(values)
    for node in inner:
        saved_widgets = [w for w in widgets_of(str(node.get("type"))) or [] if w.saved]
        own = node.get("widgets_values")
        own = list(own) if isinstance(own, list) else []
        own += [w.default for w in saved_widgets[len(own) :]]
        for position, value in zip(range(len(saved_widgets)), queue, strict=False):
            own[position] = value
        node["widgets_values"] = own
