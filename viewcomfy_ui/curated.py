"""ViewComfy's curated forms (``view_comfy.json``): reading them into fields, writing them back.

Pure: apart from reading the file that `load_view_comfy` is given, nothing here does I/O.

The file holds ``workflows[]``, each a ``viewComfyJSON`` (the form: ``inputs`` and
``advancedInputs``, lists of groups of fields) and a ``workflowApiJSON`` (the API workflow).
A field names its input by ``key`` (``<node id>-inputs-<name>``); its ``valueType`` decides the
widget, over what inference would pick. See ``docs/curated-forms.md`` in shared/.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .errors import ParamsError, WorkflowError
from .field_kinds import FIELD_KINDS, MEDIA_KINDS
from .fields import Field, infer_fields
from .workflow import Workflow, is_link, is_number, load_workflow, param_key, split_key

EDITOR_PLACEHOLDER_HELP = "Helper Text"  # what ViewComfy's editor fills in: not a real help text
SEED_TYPES = {"seed", "noise_seed", "rand_seed"}
VALUE_TYPES = {
    "long-text": "textarea", "string": "text", "number": "int", "bigint": "int", "float": "float",
    "boolean": "bool", "select": "choice", "slider": "float", "image": "image",
    "image-mask": "image-mask", "video": "video", "audio": "audio",
    **dict.fromkeys(SEED_TYPES, "seed"),
}  # fmt: skip


@dataclass(frozen=True)
class CuratedWorkflow:
    """A curated form: its title, description, form and API graph.

    Read from a ``view_comfy.json``, or from an app another tool made (``viewcomfy_ui.apps``:
    ComfyUI App Mode, ComfyDeploy, SwarmUI, MCWW), whose reader writes the same `form`.
    `outputs` are the output nodes the author picked, in order; empty means every output.
    """

    title: str
    description: str
    workflow: Workflow
    form: Mapping[str, Any]  # the viewComfyJSON
    outputs: tuple[str, ...] = ()
    app_title: str = ""  # the file's `appTitle`: the name of the app its workflows make

    def fields(self, object_info: Mapping[str, Any] | None = None) -> list[Field]:
        """Exactly the curated fields, in order: basic groups, then advanced ones."""
        return curated_fields(self.form, self.workflow, object_info)


def is_view_comfy(data: Any) -> bool:
    """True for a parsed ``view_comfy.json`` (it has a ``workflows`` list)."""
    return isinstance(data, Mapping) and isinstance(data.get("workflows"), list)


def sniff_view_comfy(path: Path) -> bool:
    """True when `path` reads as a ``view_comfy.json``; any other file is `load_workflow`'s."""
    try:
        return is_view_comfy(json.loads(path.read_text(encoding="utf-8-sig")))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return False


def load_view_comfy(source: str | Path | Mapping[str, Any]) -> list[CuratedWorkflow]:
    """The workflows of a ``view_comfy.json`` (a path or a parsed dict).

    Raises WorkflowError with a one-line reason naming what is wrong, and where.
    """
    if isinstance(source, Mapping):
        data, label = source, "view_comfy.json"
    else:
        path = Path(source)
        label = path.name
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except FileNotFoundError as exc:
            raise WorkflowError(f"{path}: no such file; check the path") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise WorkflowError(f"{path}: cannot be read as text ({exc})") from exc
        except json.JSONDecodeError as exc:
            raise WorkflowError(
                f"{label} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
            ) from exc
    if not is_view_comfy(data):
        raise WorkflowError(f"{label} has no 'workflows' list; is it ViewComfy's view_comfy.json?")
    if not data["workflows"]:
        raise WorkflowError(f"{label}: 'workflows' is empty; save a workflow in the app editor")
    app_title = str(data.get("appTitle") or "").strip()
    return [
        replace(_workflow(entry, f"{label} workflows[{i}]"), app_title=app_title)
        for i, entry in enumerate(data["workflows"])
    ]


def _workflow(entry: Any, where: str) -> CuratedWorkflow:
    if not isinstance(entry, Mapping):
        raise WorkflowError(f"{where} is not an object")
    form = entry.get("viewComfyJSON")
    if not isinstance(form, Mapping):
        raise WorkflowError(f"{where} has no 'viewComfyJSON' object (the form)")
    api = entry.get("workflowApiJSON")
    if not isinstance(api, Mapping):
        raise WorkflowError(f"{where} has no 'workflowApiJSON' object (the API workflow)")
    title = str(form.get("title") or f"Workflow {where.rsplit('[', 1)[-1].rstrip(']')}")
    try:
        workflow = load_workflow(api, name=title)
    except WorkflowError as exc:
        raise WorkflowError(f"{where} workflowApiJSON: {exc}") from exc
    if workflow.api is None:
        raise WorkflowError(f"{where} workflowApiJSON is not an API-format workflow")
    for section in ("inputs", "advancedInputs"):
        groups = form.get(section, [])
        if not isinstance(groups, list):
            raise WorkflowError(f"{where} viewComfyJSON.{section} is not a list of groups")
        for g, group in enumerate(groups):
            _check_group(group, f"{where} viewComfyJSON.{section}[{g}]", workflow)
    return CuratedWorkflow(title, str(form.get("description") or ""), workflow, form)


def _check_group(group: Any, where: str, workflow: Workflow) -> None:
    if not isinstance(group, Mapping) or not isinstance(group.get("inputs"), list):
        raise WorkflowError(f"{where} is not a group (an object with an 'inputs' list)")
    for i, item in enumerate(group["inputs"]):
        at = f"{where}.inputs[{i}]"
        if not isinstance(item, Mapping):
            raise WorkflowError(f"{at} is not a field object")
        key = _key_of(item, at)
        node_id, name = split_key(key)
        node = (workflow.api or {}).get(node_id)
        if node is None or name not in (node.get("inputs") or {}):
            raise WorkflowError(f"{at} ({key!r}): the workflow has no such node input")
        value_type = item.get("valueType")
        if value_type is not None and value_type not in VALUE_TYPES:
            raise WorkflowError(
                f"{at} ({key!r}): unknown valueType {value_type!r}; "
                f"expected one of {', '.join(sorted(VALUE_TYPES))}"
            )


def _key_of(item: Mapping[str, Any], where: str) -> str:
    """The field's flattened key, from `key` or else `workflowPath`."""
    key = item.get("key")
    path = item.get("workflowPath")
    if not isinstance(key, str) and isinstance(path, list) and len(path) == 3:
        key = param_key(str(path[0]), str(path[2]))
    if not isinstance(key, str):
        raise WorkflowError(f"{where} has neither 'key' nor 'workflowPath'")
    try:
        split_key(key)
    except ParamsError as exc:
        raise WorkflowError(f"{where}: {exc}") from exc
    return key


# --- fields ----------------------------------------------------------------------------------


def curated_fields(
    form: Mapping[str, Any], workflow: Workflow, object_info: Mapping[str, Any] | None = None
) -> list[Field]:
    """The form's fields in its order, each with its title, help text and section.

    Each starts as inference makes it (ranges, choices) and then takes what the author said:
    `valueType` decides the kind. The value is the workflow's own (what a run changes).
    """
    inferred = {
        f.key: f for f in infer_fields(Workflow(workflow.params, workflow.api), object_info)
    }
    fields: list[Field] = []
    for section in ("inputs", "advancedInputs"):
        for g, group in enumerate(form.get(section) or []):
            items = group["inputs"]
            group_title = str(group.get("title") or "")
            for item in items:
                key = _key_of(item, section)
                base = inferred.get(key) or _bare_field(key, workflow, item)
                made = _curate(base, item, group_title, single=len(items) == 1)
                fields.append(
                    replace(made, advanced=section == "advancedInputs", group=f"{section}-{g}")
                )
    return fields


def _bare_field(key: str, workflow: Workflow, item: Mapping[str, Any]) -> Field:
    """A field inference left out (e.g. a linked input): typed by its value, or the curated
    default when the workflow holds none (an untouched run then keeps the workflow's link)."""
    node_id, name = split_key(key)
    node = (workflow.api or {})[node_id]
    value = node["inputs"][name]
    if value is None or is_link(value) or isinstance(value, Mapping | list):
        value = item.get("value")
    if value is None or isinstance(value, Mapping | list):
        raise WorkflowError(
            f"{key}: this input holds no value a form can show (a link, a list or nothing) and "
            "the field gives none; remove the field or give it a 'value'"
        )
    kind = "bool" if isinstance(value, bool) else "float" if is_number(value) else "text"
    if isinstance(value, int) and not isinstance(value, bool):
        kind = "int"
    return Field(
        key=key, kind=kind, label=name, node_id=node_id, node_title=node_id, input_name=name,
        value=value, class_type=node.get("class_type"),
    )  # fmt: skip


def _curate(base: Field, item: Mapping[str, Any], group_title: str, *, single: bool) -> Field:
    title = str(item.get("title") or "").strip()
    help_text = str(item.get("helpText") or item.get("tooltip") or "").strip()
    untouched = item.get("helpText", EDITOR_PLACEHOLDER_HELP) == EDITOR_PLACEHOLDER_HELP
    auto_title = base.input_name[:1].upper() + base.input_name[1:]  # what ViewComfy's editor writes
    if single and group_title and untouched and title in ("", auto_title):
        title = group_title  # a lone field's group names it better than its input name
    if help_text == EDITOR_PLACEHOLDER_HELP:
        help_text = ""
    field = replace(
        base, label=title or base.label, node_title=group_title or base.node_title,
        help=help_text or None,
    )  # fmt: skip
    value_type = item.get("valueType")
    return _typed(field, value_type, item) if value_type else field


def _typed(field: Field, value_type: str, item: Mapping[str, Any]) -> Field:
    """The field as `valueType` says, where the workflow's value allows it."""
    kind = VALUE_TYPES[value_type]
    value = field.value
    if kind in MEDIA_KINDS:
        return replace(field, kind=kind) if isinstance(value, str) else field
    if kind == "choice":
        named = _options(item.get("options"))
        if named and value not in named:
            named = {value: str(value), **named}  # the workflow's own value is never refused
        choices = tuple(named) or field.choices or (value,)
        labels = tuple(named.get(c, str(c)) for c in choices)
        shown = labels if labels != tuple(str(c) for c in choices) else None
        return replace(field, kind="choice", choices=choices, choice_labels=shown)
    if kind in ("int", "float", "seed"):
        if not is_number(value) or (kind == "seed" and not isinstance(value, int)):
            return field
        if value_type == "slider":
            kind = "int" if isinstance(value, int) and _int_slider(item) else "float"
        elif kind == "int" and isinstance(value, float):
            kind = "float"
        made = replace(field, kind=kind, warning=field.warning if kind != "seed" else None)
        if kind == "seed" and field.kind != "seed":
            made = replace(made, seed_mode="randomize", minimum=0, maximum=None)
        bounds = item.get("slider") if value_type == "slider" else item.get("range")
        if isinstance(bounds, Mapping):  # an app reader's `range` may carry a `step` too
            made = replace(
                made, minimum=_num(bounds.get("min"), made.minimum),
                maximum=_num(bounds.get("max"), made.maximum), step=_num(bounds.get("step"), made.step),
            )  # fmt: skip
        return made
    if kind == "bool":
        return replace(field, kind="bool") if isinstance(value, bool) else field
    if isinstance(value, str):  # text / textarea
        return replace(field, kind=kind, choices=None)
    return field


def _options(options: Any) -> dict[Any, str]:
    """A `select`'s options: value -> the label the author gave it (else the value)."""
    named: dict[Any, str] = {}
    for option in options if isinstance(options, list) else []:
        value = option.get("value", option.get("label")) if isinstance(option, Mapping) else option
        if isinstance(value, str | int | float) and value not in named:
            label = option.get("label") if isinstance(option, Mapping) else None
            named[value] = (str(label).strip() if label is not None else "") or str(value)
    return named


def _int_slider(item: Mapping[str, Any]) -> bool:
    slider = item.get("slider") or {}
    return all(isinstance(slider.get(k, 1), int) for k in ("min", "max", "step"))


def _num(value: Any, fallback: float | None) -> float | None:
    return value if is_number(value) else fallback


# --- writing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pick:
    """One field the author keeps: its key, title, help text, section and group title."""

    field: Field
    title: str
    help: str = ""
    advanced: bool = False
    group: str = ""


def to_view_comfy(
    workflow: Workflow, picks: Sequence[Pick], *, title: str, description: str = ""
) -> dict[str, Any]:
    """A ``view_comfy.json`` (as a dict) that shows `picks` in their order, for one workflow.

    Consecutive picks with the same section and group title share a group.
    """
    sections: dict[str, list[dict[str, Any]]] = {"inputs": [], "advancedInputs": []}
    for pick in picks:
        groups = sections["advancedInputs" if pick.advanced else "inputs"]
        group_title = pick.group.strip() or pick.field.node_title
        if not groups or groups[-1]["title"] != group_title:
            groups.append(
                {"title": group_title, "key": f"{pick.field.node_id}-{group_title}", "inputs": []}
            )
        groups[-1]["inputs"].append(_field_json(pick))
    form = {"title": title, "description": description, "previewImages": [], **sections}
    return {
        "file_type": "view_comfy", "file_version": "1.0.0", "version": "0.0.1",
        "workflows": [{"viewComfyJSON": form, "workflowApiJSON": workflow.api}],
    }  # fmt: skip


def _field_json(pick: Pick) -> dict[str, Any]:
    f = pick.field
    media = f.kind in MEDIA_KINDS
    item: dict[str, Any] = {
        "title": pick.title.strip() or f.label, "placeholder": pick.title.strip() or f.label,
        "helpText": pick.help.strip(), "tooltip": "", "value": None if media else f.value,
        "workflowPath": [f.node_id, "inputs", f.input_name], "key": f.key,
        "valueType": FIELD_KINDS[f.kind].value_type,
        "validations": {"required": True},
    }  # fmt: skip
    if f.kind == "choice" and f.choices:
        labels = f.choice_labels or tuple(str(c) for c in f.choices)
        item["options"] = [
            {"label": label, "value": c} for label, c in zip(labels, f.choices, strict=True)
        ]
    low, high = f.minimum, f.maximum
    widest = FIELD_KINDS[f.kind].slider_span
    if widest and low is not None and high is not None:
        item["valueType"] = "slider" if high - low <= widest else item["valueType"]
        item["slider"] = {
            "min": low,
            "max": high,
            "step": f.step or (1 if f.kind == "int" else 0.01),
        }
    return item
