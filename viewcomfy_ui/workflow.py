"""ComfyUI workflows: loading, flattening to ViewComfy parameters, and applying changed values.

Pure: apart from reading the file that `load_workflow` is given, nothing here does I/O.

A workflow in API format maps node ids (opaque strings such as ``"6"`` or ``"267:275"``) to
``{"class_type": str, "inputs": {name: value}, "_meta": {"title": str}}``. Its flattened form
(ViewComfy's ``workflow_api_parameters.json``) has one ``<id>-inputs-<name>`` key per input and
one ``_<id>-node-class_type-info`` context key per node.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ParamsError, WorkflowError
from .ui_format import convert_ui, is_ui_format, ui_to_api
from .ui_layout import Layout, ui_layout

__all__ = ["Workflow", "load_workflow", "ui_to_api"]  # and the helpers below

INPUTS_SEPARATOR = "-inputs-"
CONTEXT_SUFFIX = "-node-class_type-info"

ApiWorkflow = dict[str, dict[str, Any]]

TITLE_NOISE = re.compile(r"workflows?|api|wf|copy|\(\d+\)|v\d+(\.\d+)*[a-z]?", re.IGNORECASE)
TITLE_WORDS = re.compile(r"[_\s-]+|\.(?=[A-Za-z])")  # "Wan2.2" and "v1.0" stay whole
OUTPUT_MEDIA = (
    ("video", "Video"), ("audio", "Audio"), ("mp3", "Audio"), ("glb", "3D"), ("mesh", "3D"),
    ("3d", "3D"), ("image", "Image"),
)  # fmt: skip  # what an output node's class name says the workflow makes
OUTPUT_VERBS = ("save", "combine", "preview")


@dataclass(frozen=True)
class Workflow:
    """A loaded workflow: its flattened parameters and, when known, the full API graph.

    A flattened parameters file carries no class types (only titles), so `api` is None for it.
    A UI-format file also gives its `layout` (groups as sections, notes as help, seed modes)
    and is kept as `ui`, the graph it was converted from (App Mode's picks live there).
    """

    params: dict[str, Any]
    api: ApiWorkflow | None = None
    name: str = "workflow"
    layout: Layout | None = None
    ui: Mapping[str, Any] | None = None


def is_link(value: Any) -> bool:
    """True for a link to another node's output: ``[node_id: str, output_index: int]``."""
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], int)
        and not isinstance(value[1], bool)
    )


def is_number(value: Any) -> bool:
    """A finite int or float (not a bool): a value a numeric input can hold."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and (not isinstance(value, float) or math.isfinite(value))
    )


def split_key(key: str) -> tuple[str, str]:
    """Split ``<node id>-inputs-<input name>`` on the first ``-inputs-``.

    Raises ParamsError for a key of any other shape.
    """
    node_id, sep, input_name = key.partition(INPUTS_SEPARATOR)
    if not sep or not node_id or not input_name:
        raise ParamsError(
            f"{key!r} is not a parameter key; keys look like '<node id>-inputs-<input name>', "
            "e.g. '6-inputs-text'"
        )
    return node_id, input_name


def param_key(node_id: str, input_name: str) -> str:
    """The flattened key of one node input."""
    return f"{node_id}{INPUTS_SEPARATOR}{input_name}"


def context_key(node_id: str) -> str:
    """The flattened context key that holds a node's title (or class_type)."""
    return f"_{node_id}{CONTEXT_SUFFIX}"


def is_context_key(key: str) -> bool:
    """``_<node id>-node-class_type-info``: a node's title, context only, never a parameter."""
    return key.startswith("_") and key.endswith(CONTEXT_SUFFIX) and INPUTS_SEPARATOR not in key


def node_title(node: Mapping[str, Any]) -> str:
    """``_meta.title`` if set, else ``class_type``: exactly as ViewComfy's parameter maker."""
    meta = node.get("_meta")
    title = meta.get("title") if isinstance(meta, Mapping) else None
    return title or node.get("class_type")


def workflow_title(workflow: Workflow) -> str:
    """A page title for a workflow: its file name without "workflow", "api" or a version
    (``flux_dev_api.json`` -> "Flux dev"); a name that is nothing else gives what the workflow
    makes ("Video workflow"), else "ComfyUI workflow"."""
    stem = workflow.name.rsplit("/", 1)[-1]
    stem = stem[: -len(".json")] if stem.lower().endswith(".json") else stem
    words = [w for w in TITLE_WORDS.split(stem) if w]
    kept = [w for w in words if not TITLE_NOISE.fullmatch(w)]
    if kept:
        text = " ".join(kept)
        return text[:1].upper() + text[1:]
    return _made_by(workflow.api or {})


def _made_by(api: ApiWorkflow) -> str:
    """ "Video workflow" (or Image, Audio, 3D) from the output nodes that nothing reads."""
    read = {
        v[0] for node in api.values() for v in (node.get("inputs") or {}).values() if is_link(v)
    }
    sinks = [str(node.get("class_type", "")).lower() for n, node in api.items() if n not in read]
    outputs = [sink for sink in sinks if any(verb in sink for verb in OUTPUT_VERBS)]
    for needle, media in OUTPUT_MEDIA:
        if any(needle in output for output in outputs):
            return f"{media} workflow"
    return "ComfyUI workflow"


def flatten(workflow: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The flattened parameters, exactly as ViewComfy's reference parameter maker writes them."""
    flat: dict[str, Any] = {}
    for node_id, node in workflow.items():
        flat[context_key(node_id)] = node_title(node)
        for name, value in (node.get("inputs") or {}).items():
            flat[param_key(node_id, name)] = value
    return flat


def apply_params(
    workflow: Mapping[str, Mapping[str, Any]], params: Mapping[str, Any]
) -> ApiWorkflow:
    """A new workflow with `params` (flattened keys) set; the input is not modified.

    Context keys (``_<id>-node-class_type-info``) are ignored. A key naming a node or an input that the
    workflow does not have raises ParamsError.
    """
    result: ApiWorkflow = copy.deepcopy(dict(workflow))
    for key, value in params.items():
        if is_context_key(key):
            continue
        node_id, input_name = split_key(key)
        node = result.get(node_id)
        if node is None:
            raise ParamsError(f"parameter {key!r}: the workflow has no node {node_id!r}")
        inputs = node.setdefault("inputs", {})
        if input_name not in inputs:
            raise ParamsError(
                f"parameter {key!r}: node {node_id!r} ({node.get('class_type')}) "
                f"has no input {input_name!r}"
            )
        inputs[input_name] = value
    return result


# --- loading ---------------------------------------------------------------------------------


SAVE_ADVICE = "give the file ComfyUI saves (Workflow > Save, or Export (API))"


def load_workflow(
    source: str | Path | Mapping[str, Any],
    *,
    name: str | None = None,
    object_info: Mapping[str, Any] | None = None,
) -> Workflow:
    """Load a workflow from a JSON file path or an already-parsed dict.

    Accepts the API format, ComfyUI's UI-format save (converted as its frontend's "Export (API)"
    does, with `object_info`'s declarations or the bundled ones), ViewComfy's flattened
    parameters, and wrapped payloads (``{"prompt": {...}}``, ``{"input": {"workflow": {...}}}``).
    Top-level entries that are not nodes are skipped. Anything else raises WorkflowError with a
    one-line reason.
    """
    if isinstance(source, Mapping):
        data: Any = source
        label = name or "workflow"
    else:
        path = Path(source)
        label = name or path.name
        data = _read_json(path, label)
    if not isinstance(data, Mapping):
        raise WorkflowError(
            f"{label}: expected a JSON object of nodes, got a JSON {_json_type(data)}; "
            f"{SAVE_ADVICE}"
        )
    data = _unwrap(data)
    if is_ui_format(data):
        try:
            api, seed_modes = convert_ui(data, object_info)
        except WorkflowError as exc:
            raise WorkflowError(f"{label}: {exc}") from None
        if not api:
            raise WorkflowError(
                f"{label} is a ComfyUI UI-format workflow with no nodes to run (all muted, "
                "bypassed or notes); open it in ComfyUI and enable its nodes"
            )
        layout = ui_layout(data, api, seed_modes)
        return Workflow(params=flatten(api), api=api, name=label, layout=layout, ui=data)
    nodes = {str(k): dict(v) for k, v in data.items() if _is_node(v)}
    if nodes:
        return Workflow(params=flatten(nodes), api=nodes, name=label)
    flat = {k: v for k, v in data.items() if _is_flat_key(k)}
    if flat:
        return Workflow(params=flat, api=None, name=label)
    raise WorkflowError(
        f"{label} has no ComfyUI nodes (no entries with a 'class_type'); {SAVE_ADVICE}"
    )


MAX_JSON_DEPTH = 64  # objects and arrays within each other; a workflow needs a handful


def _read_json(path: Path, label: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise WorkflowError(f"{path}: no such file; check the path") from exc
    except IsADirectoryError as exc:
        raise WorkflowError(f"{path} is a folder; give the path of a workflow .json file") from exc
    except UnicodeDecodeError as exc:
        raise WorkflowError(f"{label} is not a text file; give a workflow .json file") from exc
    except OSError as exc:
        raise WorkflowError(f"{path}: cannot be read ({exc.strerror})") from exc
    if not text.strip():
        raise WorkflowError(f"{label} is empty; {SAVE_ADVICE}")
    too_deep = WorkflowError(
        f"{label} nests objects or arrays more than {MAX_JSON_DEPTH} deep; no workflow does: "
        f"{SAVE_ADVICE}"
    )
    try:
        data = json.loads(text, parse_float=_finite, parse_constant=_not_a_number)
    except _NotFinite as exc:
        raise WorkflowError(
            f"{label} holds the number {exc} (not finite); no ComfyUI input takes one: fix that "
            "value in ComfyUI and save again"
        ) from None
    except json.JSONDecodeError as exc:
        raise WorkflowError(
            f"{label} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from exc
    except RecursionError:
        raise too_deep from None
    except ValueError as exc:  # Python's limit on digits in an int (4300)
        raise WorkflowError(
            f"{label} holds a number too long to read ({str(exc).split(':')[0].lower()}); "
            "no ComfyUI input takes one"
        ) from None
    if _depth_exceeds(data, MAX_JSON_DEPTH):
        raise too_deep
    return data


class _NotFinite(WorkflowError):
    """A JSON number that is no finite float (NaN, Infinity, 1e999)."""


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotFinite(text[:24])
    return value


def _not_a_number(text: str) -> float:
    raise _NotFinite(text)


def _depth_exceeds(data: Any, limit: int) -> bool:
    """Whether objects and arrays nest deeper than `limit` in `data` (walked without recursion,
    so later recursive code never meets such a value)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        children = (
            value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        )
        if children and depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _unwrap(data: Mapping[str, Any]) -> Mapping[str, Any]:
    graph = data.get("workflow")  # SwarmUI's saved workflow: its "prompt" holds its templates
    if isinstance(graph, Mapping) and is_ui_format(graph):
        return graph
    prompt = data.get("prompt")
    if isinstance(prompt, Mapping) and any(_is_node(v) for v in prompt.values()):
        return prompt
    inner = data.get("input")
    if isinstance(inner, Mapping) and isinstance(inner.get("workflow"), Mapping):
        return inner["workflow"]
    return data


def _is_node(value: Any) -> bool:
    return isinstance(value, Mapping) and isinstance(value.get("class_type"), str)


def _is_flat_key(key: Any) -> bool:
    return isinstance(key, str) and (INPUTS_SEPARATOR in key or is_context_key(key))


def _json_type(value: Any) -> str:
    return {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number"
    )
