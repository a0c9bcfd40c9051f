"""ComfyDeploy's ``ComfyUIDeployExternal*`` input nodes (BennyKok/comfyui-deploy). Pure.

Read from that pack's ``comfy-nodes/external_*.py`` and ``custom_routes.py``
(``apply_inputs_to_workflow``) at 98c1aca606b1: each node names an input by ``input_id`` and may
carry ``display_name`` and ``description``; a run writes the value into the input listed in
`VALUE_INPUT` (text, numbers, booleans, choices and seeds into ``default_value``). Sliders carry
``min_value``/``max_value``, a seed randomizes within them when its value lies outside, an enum
its choices as a JSON list in ``options``. The image node loads its ``default_value_url`` (an
http(s) URL or a ``data:`` URI), so it is a text field for that URL; the other media nodes
that only load URLs (image batch, EXR, file, face model) are left out.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from ..curated import CuratedWorkflow
from ..workflow import Workflow, is_number, node_title, workflow_title
from .form import AppInput, curated_form

PREFIX = "ComfyUIDeployExternal"
# class suffix -> (input a run sets, valueType; None lets inference decide from the value)
VALUE_INPUT: dict[str, tuple[str, str | None]] = {
    "Text": ("default_value", "long-text"),
    "TextAny": ("default_value", "long-text"),
    "Number": ("default_value", "float"),
    "NumberInt": ("default_value", "number"),
    "NumberSlider": ("default_value", "float"),
    "NumberSliderInt": ("default_value", "number"),
    "Boolean": ("default_value", "boolean"),
    "Enum": ("default_value", "select"),
    "Seed": ("default_value", "seed"),
    "Checkpoint": ("default_value", None),
    "Lora": ("default_lora_name", None),
    "Audio": ("audio_file", "audio"),
    "Vid": ("default_value", "video"),
    "Video": ("default_video", "video"),
    "Image": ("default_value_url", "string"),
}
IMAGE_URL_HELP = "the image's http(s) URL or data: URI"


def read_comfydeploy(workflow: Workflow) -> CuratedWorkflow | None:
    """The form of a workflow's ComfyDeploy input nodes, in workflow order; None without any."""
    picks = []
    for node_id, node in (workflow.api or {}).items():
        class_type = str(node.get("class_type") or "")
        if class_type.startswith(PREFIX) and class_type[len(PREFIX) :] in VALUE_INPUT:
            pick = _pick(node_id, class_type[len(PREFIX) :], node.get("inputs") or {}, node)
            if pick is not None:
                picks.append(pick)
    if not picks:
        return None
    return curated_form(workflow, picks, title=workflow_title(workflow))


def _pick(node_id: str, kind: str, inputs: dict[str, Any], node: dict[str, Any]) -> AppInput | None:
    name, value_type = VALUE_INPUT[kind]
    if name not in inputs:
        return None
    input_id = str(inputs.get("input_id") or "")
    title = str(inputs.get("display_name") or "").strip() or input_id or str(node_title(node))
    pick = AppInput(
        node_id, name, title, help=str(inputs.get("description") or "").strip(),
        value_type=value_type, group=title,
    )  # fmt: skip
    if kind in ("NumberSlider", "NumberSliderInt", "Seed"):
        low, high = inputs.get("min_value"), inputs.get("max_value")
        step = 1 if kind != "NumberSlider" else None
        slider = kind != "Seed"
        return _with_range(pick, low, high, step, slider=slider)
    if kind == "Image":
        return replace(pick, help=pick.help or IMAGE_URL_HELP)
    if kind == "Enum":
        return _with_options(pick, inputs.get("options"), inputs.get(name))
    return pick


def _with_range(pick: AppInput, low: Any, high: Any, step: Any, *, slider: bool) -> AppInput:
    low, high = (v if is_number(v) else None for v in (low, high))
    both = low is not None and high is not None
    return replace(pick, minimum=low, maximum=high, step=step, slider=slider and both)


def _with_options(pick: AppInput, options: Any, value: Any) -> AppInput:
    """An enum's choices: its ``options`` JSON list (the frontend's own parse), else its value."""
    try:
        parsed = json.loads(options) if isinstance(options, str) and options.strip() else None
    except ValueError:
        parsed = None
    if not isinstance(parsed, list):
        parsed = None
    choices = [c for c in parsed or [] if isinstance(c, str | int | float)]
    return replace(pick, options=choices or [value])
