"""What every app reader writes: picked node inputs, made into the curated-form model. Pure.

A reader lists `AppInput`s in the app's order; `curated_form` groups consecutive picks of one
section and group title into the ``viewComfyJSON`` groups that ``curated.py`` reads, so an app
of any tool becomes the same `CuratedWorkflow` as a ``view_comfy.json``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..curated import CuratedWorkflow
from ..workflow import Workflow, param_key


@dataclass(frozen=True)
class AppInput:
    """One node input the app shows.

    `value_type` is a ``view_comfy.json`` ``valueType`` (None: inference decides the kind);
    `options` are the choices of a ``select``; `minimum`/`maximum`/`step` a number's range
    (`slider` shows it as a slider). Consecutive picks of one section, `group` and `group_key`
    (e.g. the node, where two nodes share a title) share a group; a pick without a group is
    a group of its own, headed by its title.
    """

    node_id: str
    input_name: str
    title: str
    help: str = ""
    value_type: str | None = None
    options: Sequence[Any] | None = None
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    slider: bool = False
    advanced: bool = False
    group: str = ""
    group_key: str = ""


def curated_form(
    workflow: Workflow,
    picks: Sequence[AppInput],
    *,
    title: str,
    description: str = "",
    outputs: Sequence[str] = (),
) -> CuratedWorkflow:
    """The curated form showing `picks` in their order (basic ones, then advanced ones)."""
    sections: dict[str, list[dict[str, Any]]] = {"inputs": [], "advancedInputs": []}
    for pick in picks:
        groups = sections["advancedInputs" if pick.advanced else "inputs"]
        heading = pick.group or pick.title  # an ungrouped field heads its own group
        key = f"{pick.group_key}-{pick.group}" if pick.group else pick.node_id
        if not groups or groups[-1]["key"] != key:
            groups.append({"title": heading, "key": key, "inputs": []})
        groups[-1]["inputs"].append(_item(pick))
    form = {"title": title, "description": description, **sections}
    return CuratedWorkflow(title, description, workflow, form, tuple(outputs))


def _item(pick: AppInput) -> dict[str, Any]:
    item: dict[str, Any] = {
        "title": pick.title,
        "helpText": pick.help,
        "key": param_key(pick.node_id, pick.input_name),
    }
    if pick.value_type:
        item["valueType"] = "slider" if pick.slider else pick.value_type
    if pick.options is not None:
        item["options"] = [{"label": str(option), "value": option} for option in pick.options]
    bounds = {
        name: value
        for name, value in (("min", pick.minimum), ("max", pick.maximum), ("step", pick.step))
        if value is not None
    }
    if bounds:
        item["slider" if pick.slider else "range"] = bounds
    return item
