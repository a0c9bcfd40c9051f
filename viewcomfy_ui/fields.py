"""Form fields inferred from a workflow's parameters. Pure: no I/O.

Types come from node declarations first (a live ``/object_info``, else the bundled core and
custom node pack declarations), and from name/value rules for the rest (see ``docs/form-inference.md`` in shared/, R01-R51).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from .arrange import arrange
from .field_kinds import MEDIA_KINDS as MEDIA_KINDS  # public: the upload kinds
from .field_kinds import PROMINENT_KINDS
from .media import extension_kind
from .nodespecs import InputSpec, NodeSpec, NodeSpecs, bundled_specs, core_specs
from .recover import MODEL_EXTENSIONS, recover_class
from .workflow import (
    CONTEXT_SUFFIX,
    INPUTS_SEPARATOR,
    Workflow,
    is_context_key,
    is_link,
    is_number,
    node_title,
    param_key,
)

FieldKind = str  # a name in field_kinds.FIELD_KINDS: "text", "seed", "image", ...
UPLOAD_MEDIA = ("image", "video", "audio")  # media kinds (media.py) an upload field can take
SEED_MAX = 2**64 - 1
SEED_MODES = ("randomize", "fixed", "increment", "decrement")  # ComfyUI's control_after_generate
SEED_WIDGETS = {"seed", "noise_seed"}  # INT inputs the ComfyUI frontend gives a seed control
SEED_NAME = re.compile(r"(^|[_\s])seed($|[_\s\d])", re.IGNORECASE)  # seed, noise_seed, "Tint seed"
PASS_THROUGH_CLASSES = {"Reroute"}
MASK_SOURCE = "LoadImage"  # its output 1 is the upload's alpha as a MASK
_UNKNOWN = "no known node takes the inputs of {title!r}: kinds are guessed from names and values"
LABEL_JOIN = " · "  # between a shared field name and its node's title
TITLE_MARKER = re.compile(r"(VC_BASIC|VC_ADV)(?:\s+|$)")

UI_ONLY_INPUTS = {
    "upload", "choose file to upload", "video-preview", "control_after_generate",
    "preview", "previewMode", "image_upload", "audio_upload", "video_upload", "audioUI",
    "➕ Add Lora",
}  # fmt: skip  # widgets the frontend adds beside a node's inputs (upload buttons, previews)
IGNORED_IN_RECOVERY = frozenset(UI_ONLY_INPUTS | {"resolution_steps"})  # never a class's input
# Undeclared inputs of declared classes whose value no rule can tell from a real one (an int):
# ComfyUI's frontend saves `resolution_steps` with ImageScaleToTotalPixels (issue 11 §5).
FRONTEND_ONLY = {("ImageScaleToTotalPixels", "resolution_steps")}
PRIMITIVE_CLASSES = {
    "PrimitiveString", "PrimitiveStringMultiline", "PrimitiveInt", "PrimitiveFloat",
    "PrimitiveBoolean", "PrimitiveNode",
}  # fmt: skip
MODEL_NAME = re.compile(
    r"(ckpt|unet|vae|clip|lora|control_net|controlnet|upscale_model|model|style_model|gligen|"
    r"hypernetwork|embedding)(_name\d*)?$|^clip_name\d$"
)
PROMPT_NAMES = {
    "text", "prompt", "positive", "negative", "text_g", "text_l", "clip_l", "t5xxl", "tags",
    "lyrics", "system_prompt", "user_prompt",
}  # fmt: skip
# Undeclared inputs (packs the declarations lack): names of inputs that hold a fraction even
# when saved as a JSON int (R22, R25), and of short strings that are one of a list (R42).
FLOAT_NAME = re.compile(
    r"strength|denoise|ratio|weight|guidance|percent|^cfg|^shift$|^(start|end)_at$"
)
CHOICE_NAME = re.compile(
    r"precision|dtype|device|quantization|(^|_)mode$|method$|^scheduler$|attention"
)
CHOICE_TEXT_MAX = 40
BASIC_NUMBER_NAMES = {
    "steps", "cfg", "cfg_scale", "guidance", "denoise", "denoise_strength", "width", "height",
    "batch_size", "length", "num_frames", "frame_count", "fps", "frame_rate", "megapixels",
    "scale_by", "strength", "duration", "seconds",
}  # fmt: skip
ADVANCED_CATEGORIES = ("loaders", "advanced", "model_patches", "_for_testing", "training")
LABELS = {
    "cfg": "CFG", "cfg_scale": "CFG", "ckpt_name": "Checkpoint", "unet_name": "Diffusion model",
    "vae_name": "VAE", "lora_name": "LoRA", "sampler_name": "Sampler", "noise_seed": "Seed",
    "fps": "FPS", "filename_prefix": "Filename prefix", "image": "Image", "text": "Prompt",
    "clip_l": "CLIP-L prompt", "t5xxl": "T5-XXL prompt", "text_g": "Prompt (G)",
    "text_l": "Prompt (L)", "strength_model": "Model strength", "strength_clip": "CLIP strength",
}  # fmt: skip


@dataclass(frozen=True)
class Field:
    """One form field: a node input the user may change.

    `key` is the flattened parameter key; `value` is the workflow's value (seeds stay exact
    ints). `choices` is set for kind ``choice`` (and lists known files for uploads);
    `allow_custom` says a value outside `choices` is acceptable (model lists differ per server).
    `warning` flags a value that does not fit the node's declaration (the value is kept).
    `seed_mode` is what a seed does on each run: one of `SEED_MODES` (``randomize`` unless the
    workflow saved another). `help`, `group` and `choice_labels` come from a curated form
    (``curated.py``); `section_help`, on a section's first field, its notes (``arrange.py``).
    `label` is unique in the form (status messages name fields by it): a name
    several nodes share is followed by the node's title ("Seed · KSampler (Advanced) #86");
    the page shows it under that title without repeating it (`shown_label`).
    """

    key: str
    kind: FieldKind
    label: str
    node_id: str
    node_title: str
    input_name: str
    value: Any
    class_type: str | None = None
    minimum: int | float | None = None
    maximum: int | float | None = None
    step: int | float | None = None
    choices: tuple[Any, ...] | None = None
    choice_labels: tuple[str, ...] | None = None  # names shown for `choices` (curated forms)
    allow_custom: bool = False
    advanced: bool = False
    warning: str | None = None
    seed_mode: str = "randomize"
    help: str | None = None  # the author's help text (curated forms)
    group: str | None = None  # the author's group (curated forms); else fields group by node
    section_help: str | None = None  # notes about the field's section (Markdown, from the file)


@dataclass
class _Node:
    node_id: str
    title: str
    class_type: str | None
    inputs: dict[str, Any]
    marker: str | None = None  # VC_BASIC / VC_ADV, taken off the title
    unknown: bool = False  # a flattened node whose class no declaration fits (see recover.py)


def infer_fields(
    params: Mapping[str, Any] | Workflow, object_info: Mapping[str, Any] | None = None
) -> list[Field]:
    """The form fields of a workflow, in form order (``arrange``): each node's fields in the
    order the node declares its inputs.

    `params` is the flattened parameters (``flatten(workflow)``), an API-format workflow, or a
    loaded `Workflow`. With `object_info` (a ComfyUI ``/object_info`` dict) kinds, ranges and
    choices follow its declarations exactly; otherwise the bundled core and custom node pack
    declarations are used.
    """
    specs = _specs(object_info)
    nodes = _nodes(params, specs)
    consumers = _consumers(nodes)
    fields: list[Field] = []
    for node in nodes.values():
        spec = specs.get(node.class_type)
        names = spec.sort_inputs(list(node.inputs)) if spec else list(node.inputs)
        chosen = spec.chosen_inputs(node.inputs) if spec else {}
        for name in names:  # in the node's declaration order, as ComfyUI shows its widgets
            value = node.inputs[name]
            if name not in chosen and _is_ui_artefact(node.class_type, name, value, spec):
                continue
            declared = spec.inputs.get(name, chosen.get(name)) if spec else None
            seedlike = is_seed_name(name)
            if node.class_type in PRIMITIVE_CLASSES and name == "value":
                declared = _primitive_spec(declared, _primitive_target(node, consumers, specs))
                seedlike = _primitive_is_seed(node, consumers)
            rules = _Rules(spec.category if spec else "", seedlike, bool(object_info))
            made = _field(node, name, value, declared, rules)
            if made is not None and made.kind == "image" and _mask_is_used(node, nodes, specs):
                made = replace(made, kind="image-mask")
            if made is not None and node.unknown and not made.warning:
                made = replace(made, warning=_UNKNOWN.format(title=node.title))
                node.unknown = False  # said once, on the node's first field
            if made is not None:
                fields.append(made)
    instances = (
        params.layout.instance_titles if isinstance(params, Workflow) and params.layout else {}
    )
    fields = _finish_labels(fields, nodes, specs, consumers, instances)
    marked = {node.node_id: node.marker for node in nodes.values() if node.marker}
    if marked:  # the author chose: marked nodes only, basic or advanced, in workflow order
        return [
            replace(f, advanced=marked[f.node_id] == "VC_ADV")
            for f in fields
            if f.node_id in marked
        ]
    reads = {
        node.node_id: {value[0] for value in node.inputs.values() if is_link(value)}
        for node in nodes.values()
    }
    return arrange(fields, reads, params.layout if isinstance(params, Workflow) else None)


_LAST_SPECS: list[tuple[Mapping[str, Any], NodeSpecs]] = []  # the last /object_info, parsed


def _specs(object_info: Mapping[str, Any] | None) -> NodeSpecs:
    """The declarations to follow: a server's ``/object_info`` (the same dict object is parsed
    and indexed once: an app passes its server's on every form), else the bundled ones."""
    if not object_info:
        return bundled_specs()
    last = _LAST_SPECS[0] if _LAST_SPECS else None
    if last is not None and last[0] is object_info:
        return last[1]
    specs = NodeSpecs.from_object_info(object_info)
    _LAST_SPECS[:] = [(object_info, specs)]
    return specs


def _is_ui_artefact(class_type: str | None, name: str, value: Any, spec: NodeSpec | None) -> bool:
    """An input the frontend saved that no node reads: an upload button, a preview, a seed
    control, or (for a class the declarations know) an undeclared input holding nothing.

    Other undeclared inputs with a value (``CreateVideo.bit_depth``, ``RegexReplace.pattern``)
    stay fields: they are real inputs of a newer or older ComfyUI than the declarations'.
    """
    if name in UI_ONLY_INPUTS or (class_type, name) in FRONTEND_ONLY:
        return True
    if spec is None or name in spec.inputs:
        return False
    return value is None or value == ""


# --- nodes from params -----------------------------------------------------------------------


def _nodes(params: Mapping[str, Any] | Workflow, specs: NodeSpecs) -> dict[str, _Node]:
    if isinstance(params, Workflow):
        api = params.api
        params = params.params
    else:
        api = None
        if params and all(isinstance(v, Mapping) and "class_type" in v for v in params.values()):
            api, params = params, {}
    if api is not None:
        return {
            str(node_id): _marked(
                _Node(
                    node_id=str(node_id),
                    title=str(node_title(node) or ""),
                    class_type=node.get("class_type"),
                    inputs=dict(node.get("inputs") or {}),
                )
            )
            for node_id, node in api.items()
            if isinstance(node, Mapping)
        }
    nodes: dict[str, _Node] = {}
    for key, value in params.items():
        if not isinstance(key, str):
            continue
        if is_context_key(key):
            node_id = key[1 : -len(CONTEXT_SUFFIX)]
            _node_for(nodes, node_id).title = str(value)
            continue
        node_id, sep, name = key.partition(INPUTS_SEPARATOR)
        if sep and node_id and name:
            _node_for(nodes, node_id).inputs[name] = value
    for node in nodes.values():  # a flattened file names titles, not classes: recover them
        _marked(node)
        found = recover_class(specs, node.title, node.inputs, IGNORED_IN_RECOVERY)
        node.class_type, node.unknown = found.class_type, found.class_type is None
    return nodes


def node_classes(
    params: Mapping[str, Any] | Workflow, object_info: Mapping[str, Any] | None = None
) -> dict[str, str | None]:
    """Node id -> class type, as `infer_fields` sees it (recovered for flattened parameters)."""
    specs = _specs(object_info)
    return {node_id: node.class_type for node_id, node in _nodes(params, specs).items()}


def _marked(node: _Node) -> _Node:
    """Take a ``VC_BASIC`` / ``VC_ADV`` marker off the node's title (ViewComfy's convention)."""
    match = TITLE_MARKER.match(node.title)
    if match:
        node.marker, node.title = match[1], node.title[match.end() :] or node.title
    return node


def _node_for(nodes: dict[str, _Node], node_id: str) -> _Node:
    if node_id not in nodes:
        nodes[node_id] = _Node(node_id=node_id, title=node_id, class_type=None, inputs={})
    return nodes[node_id]


def _consumers(nodes: Mapping[str, _Node]) -> dict[str, list[tuple[_Node, str]]]:
    """For each node id, the (node, input name) pairs linked to its outputs."""
    consumers: dict[str, list[tuple[_Node, str]]] = {}
    for node in nodes.values():
        for name, value in node.inputs.items():
            if is_link(value):
                consumers.setdefault(value[0], []).append((node, name))
    return consumers


def _mask_is_used(node: _Node, nodes: Mapping[str, _Node], specs: NodeSpecs) -> bool:
    """A ``LoadImage`` whose MASK output (index 1) feeds an input that takes a mask: the user
    paints it (an input declared with another type, e.g. a miswired STRING, does not count)."""
    if node.class_type != MASK_SOURCE:
        return False
    for other in nodes.values():
        spec = specs.get(other.class_type)
        for name, value in other.inputs.items():
            if is_link(value) and value[0] == node.node_id and value[1] == 1:
                declared = spec.inputs.get(name) if spec else None
                if declared is None or declared.type in ("MASK", "*"):
                    return True
    return False


def _primitive_spec(own: InputSpec | None, target: InputSpec | None) -> InputSpec | None:
    """A primitive takes the range and choices of what it feeds, and keeps its seed control."""
    if target is None or own is None:
        return target or own
    if own.options.get("control_after_generate") and target.type == "INT":
        return InputSpec(target.type, {**target.options, "control_after_generate": True})
    return target


def _primitive_is_seed(node: _Node, consumers: Mapping[str, list[tuple[_Node, str]]]) -> bool:
    """A primitive is a seed when titled like one or when it feeds an input named like one
    (following the API workflow's links, through reroutes)."""
    if is_seed_name(node.title):
        return True
    seen, todo = {node.node_id}, [node.node_id]
    while todo:
        for consumer, name in consumers.get(todo.pop(), []):
            if is_seed_name(name):
                return True
            if consumer.class_type in PASS_THROUGH_CLASSES and consumer.node_id not in seen:
                seen.add(consumer.node_id)
                todo.append(consumer.node_id)
    return False


def is_seed_name(name: str) -> bool:
    """``seed``, ``noise_seed``, ``seed_2``, a title such as "Tint seed"; not "seedream"."""
    return bool(SEED_NAME.search(name))


def _primitive_target(
    node: _Node, consumers: Mapping[str, list[tuple[_Node, str]]], specs: NodeSpecs
) -> InputSpec | None:
    """The declaration of the first widget input this primitive feeds (e.g. KSampler.seed)."""
    for consumer, name in consumers.get(node.node_id, []):
        spec = specs.get(consumer.class_type)
        declared = spec.inputs.get(name) if spec else None
        if declared is not None and declared.is_widget:
            return declared
    return None


# --- one field -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rules:
    """What one input's field depends on besides its declaration."""

    category: str  # the node's category (advanced sections)
    seedlike: bool  # named like a seed (or a primitive feeding one): may be randomized
    consulted: bool  # declarations came from a server's /object_info, not the bundled spec


def _field(
    node: _Node, name: str, value: Any, declared: InputSpec | None, rules: _Rules
) -> Field | None:
    if _is_lora_row(value):
        return Field(
            key=param_key(node.node_id, name), kind="lora", label=name, node_id=node.node_id,
            node_title=node.title, input_name=name, value=dict(value),
            class_type=node.class_type, step=0.01,
        )  # fmt: skip
    if value is None or isinstance(value, Mapping | list):
        return None
    if declared is not None and declared.options.get("forceInput"):
        return None  # a connection the frontend shows as a socket, never a widget
    base = Field(
        key=param_key(node.node_id, name),
        kind="text",
        label=name,
        node_id=node.node_id,
        node_title=node.title,
        input_name=name,
        value=value,
        class_type=node.class_type,
    )
    made = _from_declaration(base, declared, rules) if declared is not None else None
    if made is None:
        made = _from_heuristics(base, node.class_type or node.title, rules.seedlike)
        if declared is not None and declared.is_widget:
            made = replace(
                made,
                warning=f"value {value!r} does not fit the node's {declared.type} input "
                "(the export may be corrupted)",
            )
    advanced = _is_advanced(made, rules.category, node.class_type in PRIMITIVE_CLASSES)
    mode = node.inputs.get("control_after_generate")
    if made.kind == "seed" and mode in SEED_MODES:
        made = replace(made, seed_mode=mode)
    return replace(made, advanced=advanced)


def _from_declaration(field: Field, spec: InputSpec, rules: _Rules) -> Field | None:
    """A field that follows the declaration, or None when the value does not fit it.

    A saved value the declaration does not allow is kept, with a quiet warning.
    """
    value, opts = field.value, spec.options
    if spec.upload:
        if not isinstance(value, str):
            return None
        return replace(field, kind=spec.upload, choices=spec.choices or None, allow_custom=True)
    if spec.type == "COMBO":
        choices = tuple(spec.choices or ())
        model = _is_model_name(field.input_name, value)
        open_list = spec.open_choices  # files that differ per server: any value may be right
        warning = None
        if choices and value not in choices:
            if not isinstance(value, str | int | float) or isinstance(value, bool):
                return None
            if rules.consulted and not open_list:
                warning = f"{value!r} is not one of this node's choices on the server (kept)"
            elif not (
                model or open_list
            ):  # model lists differ per server: bundled ones say nothing
                warning = f"{value!r} is not one of ComfyUI's usual choices here (kept)"
            choices = (value, *choices)
        elif not choices:
            choices = (value,)
        return replace(
            field, kind="choice", choices=choices,
            allow_custom=model or open_list or bool(warning),
            warning=warning,
        )  # fmt: skip
    if spec.type == "BOOLEAN":
        return replace(field, kind="bool") if isinstance(value, bool) else None
    if spec.type in ("INT", "FLOAT"):
        if not is_number(value):
            return None
        if spec.type == "INT":
            if isinstance(value, float) and not value.is_integer():
                return None
            controlled = opts.get("control_after_generate") or field.input_name in SEED_WIDGETS
            kind = "seed" if controlled and rules.seedlike else "int"
            if kind == "int" and opts.get("display") == "color":
                kind = "color"
            step = opts.get("step", 1)
            value = int(value)
        else:
            kind = "float"
            step = opts.get("step", 0.01)
            value = _rounded(float(value), opts.get("round"))
        low, high = opts.get("min"), opts.get("max")
        return replace(
            field, kind=kind, value=value, minimum=low, maximum=high, step=step,
            warning=_outside(value, low, high, "the server's" if rules.consulted else "ComfyUI's"),
        )  # fmt: skip
    if spec.type == "STRING":
        if not isinstance(value, str):
            return None
        multiline = opts.get("multiline") or "\n" in value
        return replace(field, kind="textarea" if multiline else "text")
    return None  # a socket type holding a literal: let the heuristics decide


def _is_lora_row(value: Any) -> bool:
    """A row of rgthree's Power Lora Loader: ``{"on": bool, "lora": str, "strength": number}``
    (its frontend draws the rows; ``/object_info`` declares none of them)."""
    return (
        isinstance(value, Mapping)
        and isinstance(value.get("on"), bool)
        and isinstance(value.get("lora"), str)
        and is_number(value.get("strength"))
    )


def _outside(value: float, low: Any, high: Any, whose: str) -> str | None:
    """A quiet note when a saved number lies outside the declared range."""
    if is_number(low) and value < low:
        return f"the saved value {value} is below {whose} minimum {low} (kept)"
    if is_number(high) and value > high:
        return f"the saved value {value} is above {whose} maximum {high} (kept)"
    return None


def _from_heuristics(field: Field, class_type: str, seedlike: bool) -> Field:
    """Name and value rules for inputs the spec does not declare (custom nodes)."""
    name, value, low = field.input_name, field.value, field.input_name.lower()
    if isinstance(value, bool):
        return replace(field, kind="bool")
    if isinstance(value, str):
        media = _media_kind(class_type, low, value)
        if media:
            return replace(field, kind=media, allow_custom=True)
        if value in ("enable", "disable"):
            return replace(field, kind="choice", choices=("enable", "disable"))
        if _is_model_name(name, value):
            return replace(field, kind="choice", choices=(value,), allow_custom=True)
        if low in ("sampler_name", "sampler", "scheduler"):
            core = core_specs().get("KSampler")
            choices = core.inputs[low if low != "sampler" else "sampler_name"].choices or ()
            if value in choices:
                return replace(field, kind="choice", choices=choices, allow_custom=True)
        if low in PROMPT_NAMES or "prompt" in low or "\n" in value or len(value) > 80:
            return replace(field, kind="textarea")
        if low in ("string", "value") and len(value) > 40:
            return replace(field, kind="textarea")
        if CHOICE_NAME.search(low) and len(value) <= CHOICE_TEXT_MAX:  # R42: usually a combo
            return replace(field, kind="choice", choices=(value,), allow_custom=True)
        return replace(field, kind="text")
    if is_number(value):
        if isinstance(value, int) and seedlike and 0 <= value <= SEED_MAX:
            return replace(field, kind="seed", minimum=0, maximum=SEED_MAX, step=1)
        if isinstance(value, int) and not FLOAT_NAME.search(low):  # a strength saved as 1
            return replace(field, kind="int", step=1, **_guess_range(low, value))
        return replace(
            field, kind="float", value=_rounded(value, None), step=0.01,
            **_guess_range(low, value),
        )  # fmt: skip
    return replace(field, kind="text", value=str(value))


def _guess_range(name: str, value: float) -> dict[str, Any]:
    """A range for a well-known name, unless the saved value shows the guess is wrong."""
    if name == "steps":
        low, high = 1, 10000
    elif name in ("denoise", "denoise_strength"):
        low, high = 0.0, 1.0
    elif name in ("width", "height") or name.endswith(("_width", "_height")):
        low, high = 1, 16384
    elif name in ("batch_size", "length", "num_frames", "frame_count", "amount"):
        low, high = 1, 4096
    else:
        return {}
    return {"minimum": low, "maximum": high} if low <= value <= high else {}


def _media_kind(class_type: str, name: str, value: str) -> str | None:
    low_class = class_type.lower()
    if "load" in low_class:
        if "video" in low_class and name in ("video", "file"):
            return "video"
        if "audio" in low_class and name in ("audio", "file"):
            return "audio"
        if "image" in low_class and name == "image" and len(value) < 300:
            return "image"
    media = extension_kind(value)
    if name in ("image", "video", "audio", "file") and media in UPLOAD_MEDIA:
        return media
    return None


def _is_model_name(name: str, value: Any) -> bool:
    if isinstance(value, str) and value.lower().endswith(MODEL_EXTENSIONS):
        return True
    return bool(MODEL_NAME.search(name.lower()))


def _rounded(value: float, precision: Any) -> float:
    """`value` rounded as the declaration says, else only cleared of float noise (0.27000000001)."""
    if not isinstance(precision, int | float) or isinstance(precision, bool) or precision <= 0:
        cleared = float(f"{value:.12g}")  # noise is a few units in the last place, not 2*pi's tail
        return cleared if abs(cleared - value) <= 4 * math.ulp(value) else value
    decimals = max(0, -math.floor(math.log10(precision)))
    return round(value, decimals)


def _is_advanced(field: Field, category: str, is_primitive: bool) -> bool:
    name = field.input_name.lower()
    if name == "filename_prefix":
        return True
    if field.kind in PROMINENT_KINDS or is_primitive:
        return False
    if name in BASIC_NUMBER_NAMES or name in ("sampler_name", "scheduler"):
        return False
    if field.kind == "choice" and _is_model_name(field.input_name, field.value):
        return True
    return category.startswith(ADVANCED_CATEGORIES)


# --- labels ----------------------------------------------------------------------------------


def _finish_labels(
    fields: list[Field],
    nodes: Mapping[str, _Node],
    specs: NodeSpecs,
    consumers: Mapping[str, list[tuple[_Node, str]]],
    instances: Mapping[str, str],
) -> list[Field]:
    """Readable labels, and node titles made unique where they repeat. `instances` titles
    subgraph instances (by top-level id): a node inside one is named after it."""
    per_node = Counter(f.node_id for f in fields)
    texts = Counter(f.node_id for f in fields if f.kind == "textarea")
    titles = {node_id: _display_title(nodes[node_id], specs, consumers) for node_id in per_node}
    unique_titles = _unique_titles(titles, instances)
    labelled = []
    for f in fields:
        node = nodes[f.node_id]
        custom_title = _has_custom_title(node, specs)
        role = _conditioning_role(node, consumers)
        titled = f.kind in PROMINENT_KINDS or f.class_type in PRIMITIVE_CLASSES
        if (
            per_node[f.node_id] == 1
            and titled
            and (custom_title or f.class_type in PRIMITIVE_CLASSES)
        ):
            label = titles[f.node_id]
        elif f.kind == "textarea" and role and texts[f.node_id] > 1:  # e.g. CLIP-L and T5-XXL
            name = _humanize(f.input_name)
            if name.lower().startswith("prompt"):  # "Prompt (G)" -> "Positive prompt (G)"
                kind = "prompt" + name[len("prompt") :]
            else:
                kind = name if name.endswith("prompt") else f"prompt ({name})"
            label = f"{role.capitalize()} {kind}"
        elif f.kind == "textarea" and role:
            label = f"{role.capitalize()} prompt"
        else:
            label = _humanize(f.input_name)
        labelled.append(replace(f, label=label, node_title=unique_titles[f.node_id]))
    counts = Counter(f.label for f in labelled)
    return [
        f if counts[f.label] == 1
        else replace(f, label=f.node_title if f.label == titles[f.node_id] else f"{f.label}{LABEL_JOIN}{f.node_title}")
        for f in labelled
    ]  # fmt: skip


def _unique_titles(titles: Mapping[str, str], instances: Mapping[str, str]) -> dict[str, str]:
    """Each node's title, unique: a repeated one gets its node id, except in a subgraph instance
    ("12:5"), where it gets the instance's title ("KSampler in Upscale"), then the instance's id
    if that still repeats ("KSampler in Upscale #12"), then the node's own id."""

    def inside(node_id: str, title: str) -> str:
        instance = instances.get(node_id.split(":")[0]) if ":" in node_id else None
        return f"{title} in {instance}" if instance else f"{title} #{node_id}"

    steps = (
        inside,
        lambda node_id, title: f"{title} #{node_id.split(':')[0]}",
        lambda node_id, title: f"{title.removesuffix(' #' + node_id.split(':')[0])} #{node_id}",
    )
    unique = dict(titles)
    for step in steps:
        repeats = Counter(unique.values())
        unique = {n: step(n, t) if repeats[t] > 1 else t for n, t in unique.items()}
    return unique


def shown_label(f: Field) -> str | None:
    """The label to show under the field's node title (its group heading): without the title
    it repeats, None when the label is that title (the heading names the field)."""
    if f.label == f.node_title:
        return None
    return f.label.removesuffix(f"{LABEL_JOIN}{f.node_title}")


def _conditioning_role(node: _Node, consumers: Mapping[str, Any]) -> str | None:
    """``positive`` or ``negative`` when the node feeds a sampler's input of that name."""
    roles = {name for _, name in consumers.get(node.node_id, [])} & {"positive", "negative"}
    return roles.pop() if len(roles) == 1 else None


def _display_title(node: _Node, specs: NodeSpecs, consumers: Mapping[str, Any]) -> str:
    if _has_custom_title(node, specs):
        return node.title
    if node.class_type in PRIMITIVE_CLASSES:  # an untitled primitive is named by what it feeds
        for consumer, name in consumers.get(node.node_id, []):
            if _has_custom_title(consumer, specs):
                return f"{consumer.title}: {_humanize(name)}" if name != "text" else consumer.title
            return _humanize(name)
    spec = specs.get(node.class_type)
    return spec.display_name if spec else node.title or node.node_id


def _has_custom_title(node: _Node, specs: NodeSpecs) -> bool:
    spec = specs.get(node.class_type)
    defaults = {node.class_type, spec.display_name if spec else None, ""}
    return node.title not in defaults


def _humanize(name: str) -> str:
    if name in LABELS:
        return LABELS[name]
    words = re.sub(r"[_.]+", " ", name).strip()
    return words[:1].upper() + words[1:] if words else name
