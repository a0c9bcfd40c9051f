"""SwarmUI's ``SwarmInput*`` nodes (mcmonkeyprojects/SwarmUI). Pure.

Read from SwarmUI at 062407c7bb48: ``src/BuiltinExtensions/ComfyUIBackend/ExtraNodes/
SwarmComfyCommon/SwarmInputNodes.py`` (the declarations) and ``Assets/
comfy_workflow_editor_helper.js`` (how SwarmUI turns them into parameters). Each node is one
field: ``title`` names it, ``value`` is its default, ``description`` its help;
``min``/``max``/``step`` and ``view_type`` (``slider``, ``seed``, ``prompt``...) shape numbers
and text; a dropdown's ``values`` are comma-separated. A ``SwarmInputGroup`` linked to the
``group`` input gathers fields under its title. Fields sort as SwarmUI sorts them: groups by
their ``order_priority`` (ungrouped fields: 0), fields within a group by theirs; a field or group
marked ``is_advanced`` is advanced. Images and videos are uploads (their ``image``/``video``
input; ``value`` stays as SwarmUI's server fills it); audio, which SwarmUI only takes as base64
from its own server, is left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..curated import CuratedWorkflow
from ..workflow import Workflow, is_link, is_number, workflow_title
from .form import AppInput, curated_form

GROUP_CLASS = "SwarmInputGroup"
DESCRIPTION_CLASS = "SwarmWorkflowDescription"
TEXT_VIEWS = {"normal": "string", "prompt": "long-text", "big": "long-text"}
UPLOADS = {"SwarmInputImage": ("image", "image"), "SwarmInputVideo": ("video", "video")}


@dataclass(frozen=True)
class _Group:
    title: str
    priority: float
    advanced: bool


UNGROUPED = _Group("", 0, False)


def read_swarmui(workflow: Workflow) -> CuratedWorkflow | None:
    """The form of a workflow's SwarmInput nodes; None when it has none."""
    api = workflow.api or {}
    ranked: list[tuple[float, int, float, int, AppInput]] = []
    first_seen: dict[_Group, int] = {}
    for order, (node_id, node) in enumerate(api.items()):
        inputs = node.get("inputs") or {}
        pick = _pick(node_id, str(node.get("class_type") or ""), inputs)
        if pick is None:
            continue
        group = _group(api, inputs.get("group"))
        first_seen.setdefault(group, order)
        pick = replace(
            pick, group=group.title, group_key=group.title,
            advanced=bool(inputs.get("is_advanced")) or group.advanced,
        )  # fmt: skip
        priority = inputs.get("order_priority")
        own = priority if is_number(priority) else 0
        ranked.append((group.priority, first_seen[group], own, order, pick))
    if not ranked:
        return None
    picks = [pick for *_, pick in sorted(ranked, key=lambda r: r[:4])]
    return curated_form(
        workflow, picks, title=workflow_title(workflow), description=_description(api)
    )


def _pick(node_id: str, class_type: str, inputs: Mapping[str, Any]) -> AppInput | None:
    if not class_type.startswith("SwarmInput") or class_type == GROUP_CLASS:
        return None
    title = str(inputs.get("title") or class_type).strip()
    base = AppInput(node_id, "value", title, help=str(inputs.get("description") or "").strip())
    if class_type in UPLOADS:
        name, value_type = UPLOADS[class_type]
        return replace(base, input_name=name, value_type=value_type) if name in inputs else None
    if "value" not in inputs or class_type == "SwarmInputAudio":
        return None
    view = str(inputs.get("view_type") or "")
    if class_type in ("SwarmInputInteger", "SwarmInputFloat"):
        return _number(base, inputs, view, integer=class_type == "SwarmInputInteger")
    if class_type == "SwarmInputText":
        return replace(base, value_type=TEXT_VIEWS.get(view, "long-text"))
    if class_type == "SwarmInputBoolean":
        return replace(base, value_type="boolean")
    if class_type == "SwarmInputDropdown":
        values = [v.strip() for v in str(inputs.get("values") or "").split(",") if v.strip()]
        return replace(base, value_type="select", options=values) if values else base
    return base  # model names and checkpoints: inference makes them model choices


def _number(base: AppInput, inputs: Mapping[str, Any], view: str, *, integer: bool) -> AppInput:
    if integer and view == "seed":
        return replace(base, value_type="seed")
    low, high, step = (inputs.get(k) for k in ("min", "max", "step"))
    return replace(
        base, value_type="number" if integer else "float",
        minimum=low if is_number(low) else None, maximum=high if is_number(high) else None,
        step=step if is_number(step) and step > 0 else None,
        slider=view in ("slider", "pot_slider") and is_number(low) and is_number(high),
    )  # fmt: skip


def _group(api: Mapping[str, Any], link: Any) -> _Group:
    node = api.get(link[0]) if is_link(link) else None
    if not isinstance(node, Mapping) or node.get("class_type") != GROUP_CLASS:
        return UNGROUPED
    inputs = node.get("inputs") or {}
    priority = inputs.get("order_priority")
    return _Group(
        str(inputs.get("title") or "").strip(),
        priority if is_number(priority) else 0,
        bool(inputs.get("is_advanced")),
    )


def _description(api: Mapping[str, Any]) -> str:
    for node in api.values():
        if node.get("class_type") == DESCRIPTION_CLASS:
            return str((node.get("inputs") or {}).get("description") or "").strip()
    return ""
