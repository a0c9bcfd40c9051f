"""MCWW's title markers (light-and-ray/Minimalistic-Comfy-Wrapper-WebUI). Pure.

Read from MCWW at 9b8060651dcf: ``docs/titles.md``, ``mcww/comfy/comfyUtils.py``
(``parse_title``, ``parseMinMaxStep``), ``mcww/comfy/workflow.py`` and ``mcww/comfy/
nodeUtils.py`` (``getElementField``). A node titled ``<Label:category[/tab]:row[/col]> args``
is one element: categories ``prompt`` and ``important`` are the basic form, ``advanced`` the
advanced one, ``output`` names an output, any other category is its own advanced section. Its
field is one of the node's declared inputs: the first upload (image, video, audio), else the
first text, else the first checkbox, else the first number. ``args`` of two or three numbers
make a number a slider (min, max, step); an integer labelled "seed" without args is a seed.
Elements sort by category, then tab (by its lowest row), then row and column.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..curated import CuratedWorkflow
from ..nodespecs import InputSpec, NodeSpec, NodeSpecs, bundled_specs
from ..workflow import Workflow, is_link, is_number, node_title, workflow_title
from .form import AppInput, curated_form

TITLE = re.compile(r"<([^:]+):([^/:]+)(?:/([^/:]+))?:(\d+)(?:/(\d+))?>(.*)")  # parse_title's
NUMBER = re.compile(r"[-+]?\d*\.?\d+")  # parseMinMaxStep's
BASIC = ("prompt", "important")
KNOWN = ("prompt", "important", "advanced", "output")
PRIORITY = ("image", "video", "audio", "STRING", "BOOLEAN")  # getElementField's order
VALUE_TYPES = {"INT": "number", "FLOAT": "float", "BOOLEAN": "boolean"}


@dataclass(frozen=True)
class _Element:
    node_id: str
    label: str
    category: str
    tab: str
    row: int
    col: int
    args: str


def read_mcww(
    workflow: Workflow, object_info: Mapping[str, Any] | None = None
) -> CuratedWorkflow | None:
    """The form of a workflow's MCWW-titled nodes; None when no node carries a marker.

    `object_info` (a server's ``/object_info``) decides which input a node shows; without it,
    the bundled declarations do.
    """
    api = workflow.api or {}
    elements = [e for node_id, node in api.items() if (e := _element(node_id, node))]
    if not elements:
        return None
    specs = NodeSpecs.from_object_info(object_info) if object_info else bundled_specs()
    picks = []
    for element in _sorted([e for e in elements if e.category != "output"]):
        node = api[element.node_id]
        pick = _pick(element, node, specs.get(node.get("class_type")))
        if pick is not None:
            picks.append(pick)
    outputs = [e.node_id for e in _sorted([e for e in elements if e.category == "output"])]
    return curated_form(workflow, picks, title=workflow_title(workflow), outputs=outputs)


def _element(node_id: str, node: Mapping[str, Any]) -> _Element | None:
    match = TITLE.match(str(node_title(node) or "").strip())
    if match is None:
        return None
    label, category, tab, row, col, args = match.groups()
    category = category.strip()
    folded = category.lower().removesuffix("s")
    return _Element(
        node_id, label.strip(), folded if folded in KNOWN else category, (tab or "").strip(),
        int(row), int(col) if col else 0, args.strip(),
    )  # fmt: skip


def _sorted(elements: list[_Element]) -> list[_Element]:
    """Known categories first (in MCWW's order), then custom ones; tabs by their lowest row."""
    customs = sorted({e.category for e in elements} - set(KNOWN), key=lambda c: min(
        e.row for e in elements if e.category == c
    ))  # fmt: skip
    rank = {category: i for i, category in enumerate((*KNOWN, *customs))}
    first_row = {}
    for e in elements:
        first_row[(e.category, e.tab)] = min(e.row, first_row.get((e.category, e.tab), e.row))
    return sorted(
        elements,
        key=lambda e: (rank[e.category], first_row[(e.category, e.tab)], e.tab, e.row, e.col),
    )


def _pick(element: _Element, node: Mapping[str, Any], spec: NodeSpec | None) -> AppInput | None:
    inputs = node.get("inputs") or {}
    chosen = _field(inputs, spec.inputs if spec else None)
    if chosen is None:
        return None
    name, kind = chosen
    custom = element.category not in KNOWN
    group = element.category if custom else element.tab
    if custom and element.tab:
        group = f"{element.category} / {element.tab}"
    pick = AppInput(
        element.node_id, name, element.label, advanced=element.category not in BASIC,
        group=group, group_key=f"{element.category}/{element.tab}",
    )  # fmt: skip
    return _typed(pick, kind, element)


def _typed(pick: AppInput, kind: str, element: _Element) -> AppInput:
    if kind in ("image", "video", "audio"):
        return replace(pick, value_type=kind)
    if kind == "INT" and "seed" in element.label.lower() and not element.args:
        return replace(pick, value_type="seed")
    if kind in ("INT", "FLOAT"):
        numbers = [float(n) for n in NUMBER.findall(element.args)]
        if len(numbers) in (2, 3):
            as_int = kind == "INT" and all(n.is_integer() for n in numbers)
            low, high, *step = [int(n) if as_int else n for n in numbers]
            return replace(
                pick, value_type=VALUE_TYPES[kind], minimum=low, maximum=high,
                step=step[0] if step else None, slider=True,
            )  # fmt: skip
    return replace(pick, value_type=VALUE_TYPES.get(kind))


def _field(
    inputs: Mapping[str, Any], declared: Mapping[str, InputSpec] | None
) -> tuple[str, str] | None:
    """(input name, kind) of the node's element field, by MCWW's preference."""
    candidates: list[tuple[str, str]] = []
    names = list(declared) if declared is not None else list(inputs)
    for name in names:
        value = inputs.get(name)
        if value is None or is_link(value):
            continue
        kind = _kind(name, value, declared.get(name) if declared is not None else None)
        if kind:
            candidates.append((name, kind))
    for wanted in PRIORITY:
        for candidate in candidates:
            if candidate[1] == wanted:
                return candidate
    return candidates[0] if candidates else None


def _kind(name: str, value: Any, spec: InputSpec | None) -> str | None:
    if spec is None:  # a node the declarations do not know: its value's type
        if isinstance(value, bool):
            return "BOOLEAN"
        if isinstance(value, str):
            return "STRING"
        return ("INT" if isinstance(value, int) else "FLOAT") if is_number(value) else None
    if spec.type == "COMBO":
        if spec.upload:
            return spec.upload
        return ("image" if name == "image" else "video") if name in ("file", "image") else None
    return spec.type if spec.type in ("STRING", "INT", "FLOAT", "BOOLEAN") else None
