"""The order and sections of a form without curation. Pure: no I/O.

A field's place follows what the knob is (its node's class and its input name): prompts and
uploads first, then the seed, the size, the steps, guidance/CFG, denoise, LoRA strengths and the
sampler, then the rest by graph position (inputs before what they feed). These key knobs of the
main generation are open even where their node's category says advanced; the same names on a
post-processing node (an upscaler, a detailer) are not key, and its internals (seam fixes, mask
blur, tiling, padding, detection thresholds), like other internal knobs (precision, device, file
prefixes, JSON blobs, display-only nodes), go to Advanced. About `MAX_OPEN` fields stay open at
first, whole nodes at a time (key knobs may take `OVERSHOOT` more): the rest go to Advanced too.
Several sampler nodes share one "Sampler" section, and neighbouring nodes of one readable title
(`heading`: no ids, class names split into words) one section, their labels telling them apart.
A UI-format file's `Layout` keeps each of its groups together as one section, titled as in the
graph (placed where its first node would be), gives its notes as the help texts of sections
(shown once, under the heading) and its seeds' modes.
"""

from __future__ import annotations

import graphlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from .field_kinds import MEDIA_KINDS

if TYPE_CHECKING:
    from .fields import Field
    from .ui_layout import Layout

MAX_OPEN = 25
OVERSHOOT = 5  # a node that starts before the cap may end this far past it, to stay whole
SIZE_NAMES = {"width", "height", "megapixels", "resolution", "aspect_ratio", "scale_by", "size"}
STEPS_NAMES = {"steps", "length", "num_frames", "frame_count", "duration", "seconds"}
GUIDANCE_NAMES = {"cfg", "cfg_scale", "guidance", "guidance_scale", "embedded_guidance_scale"}
DENOISE_NAMES = {"denoise", "denoise_strength"}
SAMPLER_NAMES = {"sampler_name", "sampler", "scheduler"}
# The tiers of a field, most wanted first (`_tier`); all but REST are key knobs.
MEDIA_OR_PROMPT, SEED, SIZE, STEPS, GUIDANCE, DENOISE, LORA, SAMPLER, REST = range(9)
INTERNAL = re.compile(
    r"precision|dtype|device|tile|tiling|overlap|offload|attention|vram|cache|seam_fix|"
    r"mask_blur|filename_prefix|save_output|format|^crf$|pix_fmt|quantization|weight_dtype|"
    r"compile",
    re.IGNORECASE,
)
DISPLAY_ONLY = re.compile(r"show|display|preview|note|markdown|console|debug", re.IGNORECASE)
# Nodes that rework a finished image: their sampler knobs are not the generation's.
POST_PROCESSING = re.compile(r"upscale|detailer|usdu|face_?restore|facefix|refiner", re.I)
POST_INTERNAL = re.compile(
    r"padding|feather|^bbox_|^sam_|dilation|drop_size|guide_size|max_size|crop_factor|^force_|"
    r"noise_mask|^cycle$|refiner_ratio|^mode_type$|threshold|^inpaint_model$|wildcard|"
    r"^select to add",
    re.IGNORECASE,
)
# Image operations whose sizes follow the picture, not the size of what is made.
IMAGE_OP = re.compile(r"crop|resize|scale|pad|modelsampling|preprocessor|_aux$|mask", re.I)
SAMPLER_NODE = re.compile(r"sampler|scheduler|guider|guidance|randomnoise", re.IGNORECASE)
LORA_STRENGTH = re.compile(r"strength|weight")
VALUE_INPUTS = {"int", "float", "value", "number", "string", "text", "boolean"}
SAMPLER_GROUP = "auto:sampler"  # the group of the sampler nodes' open fields
AUTO_GROUP = "auto:"  # groups made here (not an author's, nor the graph's)


def arrange(
    fields: Sequence[Field], reads: Mapping[str, set[str]], layout: Layout | None = None
) -> list[Field]:
    """`fields` in form order, key knobs open, internal knobs and what lies beyond `MAX_OPEN`
    advanced, in readable sections.

    `reads` maps each node id to the node ids whose outputs it reads (the workflow's links);
    `layout` is a UI-format file's groups, notes and seed modes.
    """
    made_size = any(_makes_size(f) for f in fields)
    tier = {f.key: _tier(f, made_size) for f in fields}
    fields = [_opened_or_advanced(f, tier[f.key]) for f in fields]
    if layout is not None:
        fields = _laid_out(fields, layout)
    position = _graph_position(reads, [f.node_id for f in fields])
    by_node: dict[str, list[Field]] = {}
    for f in fields:
        by_node.setdefault(f.node_id, []).append(f)

    def rank(node: str) -> int:
        return min(tier[f.key] if not f.advanced else REST for f in by_node[node])

    nodes = sorted(by_node, key=lambda n: (rank(n), position[n]))
    if layout is not None:  # a section's nodes together, where its first node comes
        units: dict[str, list[str]] = {}
        for n in nodes:
            units.setdefault(by_node[n][0].group or n, []).append(n)
        nodes = [n for unit in units.values() for n in unit]
    capped = _cap([by_node[n] for n in nodes], [rank(n) < REST for n in nodes])
    arranged = _sections([f for node in capped for f in node], tier)
    return _with_section_help(arranged, layout) if layout is not None else arranged


def heading(title: str) -> str:
    """A section heading a person would write for a node title: without the id that tells
    repeated titles apart ("WanAnimateToVideo #232:62"), a class name split into words
    ("Wan Animate To Video")."""
    title = re.sub(r"\s+#[\w:]+$", "", title).strip() or title
    if " " in title or not re.search(r"[a-z][A-Z]|[A-Z]{2}[a-z]", title):
        return title
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", title)
    return re.sub(r"\bK Sampler\b", "KSampler", words)


def section_title(section: Sequence[Field]) -> str:
    """The heading of a section (its fields, in form order): "Sampler", a node's readable
    `heading`, or the title an author or the graph's group gave."""
    first = section[0]
    if first.group == SAMPLER_GROUP:
        return "Sampler"
    if first.group is None or first.group.startswith(AUTO_GROUP):
        return heading(first.node_title)
    return first.node_title


def authored(section: Sequence[Field]) -> bool:
    """Whether the section's title was given by a person (a curated file's group, a ComfyUI
    group), not made from a node's name."""
    group = section[0].group
    return group is not None and group != SAMPLER_GROUP and not group.startswith(AUTO_GROUP)


def _name(f: Field) -> str:
    """What the knob is called: its input's name, or a value node's title ("Steps")."""
    if _is_value_node(f):
        return re.sub(r"[\s-]+", "_", heading(f.node_title).strip().lower())
    return f.input_name.lower()


def _is_value_node(f: Field) -> bool:
    """A node that only holds a value (a primitive, a "String Literal"), named by its title."""
    return f.input_name.lower() in VALUE_INPUTS and bool(
        f.class_type and re.search(r"primitive|literal|constant", f.class_type, re.IGNORECASE)
    )


def _is_post(f: Field) -> bool:
    return bool(f.class_type and POST_PROCESSING.search(f.class_type))


def _makes_size(f: Field) -> bool:
    """The size of what is made: a latent's or a video node's width and height."""
    return _is_size(_name(f)) and not _is_post(f) and not IMAGE_OP.search(f.class_type or "")


def _is_size(name: str) -> bool:
    return name in SIZE_NAMES or name.endswith(("_width", "_height"))


def _tier(f: Field, made_size: bool) -> int:
    """How much a user wants the knob, `MEDIA_OR_PROMPT` (most) to `REST` (see the tiers)."""
    name = _name(f)
    if _is_internal(f):
        return REST
    if f.kind in MEDIA_KINDS or (f.kind in ("text", "textarea") and "prompt" in f.label.lower()):
        return MEDIA_OR_PROMPT
    if f.kind == "textarea" and (_is_value_node(f) or "encode" in (f.class_type or "").lower()):
        return MEDIA_OR_PROMPT
    if f.kind == "lora" or (LORA_STRENGTH.search(name) and "lora" in (f.class_type or "").lower()):
        return LORA
    if _is_post(f) or f.kind not in ("seed", "int", "float", "choice"):
        return REST
    if f.kind == "seed":
        return SEED
    if _is_size(name):
        return SIZE if _makes_size(f) or not made_size else REST
    if name in STEPS_NAMES:
        return STEPS
    if name in GUIDANCE_NAMES:
        return GUIDANCE
    if name in DENOISE_NAMES:
        return DENOISE
    if name in SAMPLER_NAMES:
        return SAMPLER
    return REST


def _opened_or_advanced(f: Field, tier: int) -> Field:
    """A key knob is open, an internal knob advanced; the rest as inference said."""
    if tier < REST:
        return replace(f, advanced=False) if f.advanced else f
    if _is_internal(f):
        return replace(f, advanced=True)
    return f


def _laid_out(fields: Sequence[Field], layout: Layout) -> list[Field]:
    """Each field in its graph group (a section: group and title), seeds with their saved mode."""
    result = []
    for f in fields:
        mode = layout.seed_modes.get(f.key)
        if f.kind == "seed" and mode:
            f = replace(f, seed_mode=mode)
        section = layout.section_of(f.node_id)
        if section is not None:
            f = replace(f, group=f"section:{section.node_ids[0]}", node_title=section.title)
        result.append(f)
    return result


def _with_section_help(fields: Sequence[Field], layout: Layout) -> list[Field]:
    """The first field shown of each section (its first open one, if any) carries the section's
    notes: a group's own, and those of notes outside groups next to one of its nodes (the
    nearest with a field). Notes next to no field, or in a group without fields, go to the top
    of the form: to the first open section."""
    unit_of = {f.node_id: f.group or f.node_id for f in fields}
    texts: dict[str | None, list[str]] = {}
    for section in layout.sections:
        if section.help:
            unit = next((unit_of[n] for n in section.node_ids if n in unit_of), None)
            texts.setdefault(unit, []).append(section.help)
    for note in layout.notes:
        unit = next((unit_of[n] for n in note.near if n in unit_of), None)
        texts.setdefault(unit, []).append(note.text)
    carrier: dict[str, int] = {}
    for i, f in sorted(enumerate(fields), key=lambda item: item[1].advanced):
        carrier.setdefault(f.group or f.node_id, i)
    top = texts.pop(None, [])
    first = min(carrier.values(), key=lambda i: (fields[i].advanced, i), default=None)
    result = list(fields)
    for unit, i in carrier.items():
        shown = [*(top if i == first else []), *texts.get(unit, [])]
        if shown:
            result[i] = replace(fields[i], section_help="\n\n".join(shown))
    return result


def _cap(nodes: list[list[Field]], key: list[bool]) -> list[list[Field]]:
    """Keep about `MAX_OPEN` fields open, a node's fields together: a node opens whole when it
    fits in `MAX_OPEN` + `OVERSHOOT` (a node with a key knob, `key`, also when the form already
    holds `MAX_OPEN`), else all of it goes to Advanced (only a first node too big for the form
    alone is cut at `MAX_OPEN`)."""
    open_count = 0
    capped = []
    for fields, has_key in zip(nodes, key, strict=True):
        wanted = sum(not f.advanced for f in fields)
        if not wanted:
            capped.append(fields)
        elif open_count == 0 and wanted > MAX_OPEN + OVERSHOOT:
            capped.append(_cut(fields, MAX_OPEN))
            open_count = MAX_OPEN
        elif (open_count < MAX_OPEN or has_key) and open_count + wanted <= MAX_OPEN + OVERSHOOT:
            capped.append(fields)
            open_count += wanted
        else:
            capped.append([replace(f, advanced=True) for f in fields])
    return capped


def _sections(fields: list[Field], tier: Mapping[str, int]) -> list[Field]:
    """Open fields of several sampler nodes in one "Sampler" section (where the first one is),
    and neighbouring nodes of one `heading` in one section (fields in the author's or the
    graph's groups stay as they are)."""
    knobs: dict[str, set[int]] = {}
    for f in fields:
        if not f.advanced and not f.group and not _is_post(f):
            knobs.setdefault(f.node_id, set()).add(tier[f.key])
    classes = {f.node_id: f.class_type or "" for f in fields}
    samplers = {
        node
        for node, tiers in knobs.items()
        if SAMPLER_NODE.search(classes[node]) or tiers <= {SEED, STEPS, GUIDANCE, DENOISE, SAMPLER}
    }
    if len(samplers) > 1:
        section = [f for f in fields if f.node_id in samplers and not f.advanced]
        first = fields.index(section[0])
        rest = [f for f in fields if f not in section]
        labels = {f.label for f in fields}
        named = [replace(f, group=SAMPLER_GROUP, label=_own_label(f, labels)) for f in section]
        fields = rest[:first] + named + rest[first:]
    return _merge_repeated_headings(fields)


def _own_label(f: Field, labels: set[str]) -> str:
    """A value node's field (an "Int" titled "Steps") named by its node's title, when no other
    label (in `labels`, which takes it) is."""
    title = heading(f.node_title)
    if _is_value_node(f) and title not in labels:
        labels.add(title)
        return title
    return f.label


def _merge_repeated_headings(fields: list[Field]) -> list[Field]:
    """Neighbouring nodes (open or advanced alike) whose headings read the same: one section."""
    units: list[list[Field]] = []
    for f in fields:
        unit = f.group or f.node_id
        if units and (units[-1][0].group or units[-1][0].node_id) == unit:
            units[-1].append(f)
        else:
            units.append([f])
    merged: list[Field] = []
    i = 0
    while i < len(units):
        j = i + 1
        title = heading(units[i][0].node_title)
        while (
            j < len(units)
            and not units[i][0].group
            and not units[j][0].group
            and units[j][0].advanced == units[i][0].advanced
            and heading(units[j][0].node_title) == title
        ):
            j += 1
        if j - i > 1:
            group = f"{AUTO_GROUP}{units[i][0].node_id}"
            merged += [replace(f, group=group) for u in units[i:j] for f in u]
        else:
            merged += units[i]
        i = j
    return merged


def _cut(fields: list[Field], room: int) -> list[Field]:
    """The first `room` open fields stay open, the rest go to Advanced."""
    cut = []
    for f in fields:
        if not f.advanced:
            room -= 1
            f = f if room >= 0 else replace(f, advanced=True)
        cut.append(f)
    return cut


def _is_internal(f: Field) -> bool:
    """A knob most users never touch: precision, device, tiling, file names, JSON, displays."""
    if f.kind in MEDIA_KINDS or f.kind == "seed":
        return False
    if INTERNAL.search(f.input_name) or (_is_post(f) and POST_INTERNAL.search(f.input_name)):
        return True
    if f.class_type and DISPLAY_ONLY.search(f.class_type) and f.kind in ("text", "textarea"):
        return True
    return isinstance(f.value, str) and _is_json_blob(f.value)


def _is_json_blob(text: str) -> bool:
    text = text.strip()
    if not text.startswith(("{", "[")):
        return False
    try:
        return isinstance(json.loads(text), dict | list)
    except ValueError:
        return False


def _graph_position(reads: Mapping[str, set[str]], node_ids: Sequence[str]) -> dict[str, int]:
    """Each node's place in a topological order (ties: as the workflow lists them)."""
    listed = {node: i for i, node in enumerate(dict.fromkeys([*reads, *node_ids]))}
    sorter = graphlib.TopologicalSorter({n: reads.get(n, set()) & listed.keys() for n in listed})
    try:
        sorter.prepare()
    except graphlib.CycleError:  # not a valid ComfyUI graph: keep the workflow's order
        return listed
    position: dict[str, int] = {}
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=listed.__getitem__)
        for node in ready:
            position[node] = len(position)
        sorter.done(*ready)
    return position


COMPACT_KINDS = {"int", "float", "choice", "bool", "color", "text"}  # fit half a row
PARTNERS = re.compile(r"(?<![a-z])(width|height|min|max|start|end|lower|upper|x|y)(?![a-z])")
SWAPS = {"height": "width", "max": "min", "end": "start", "upper": "lower", "y": "x"}
SIDE_BY_SIDE = {frozenset({"steps", "cfg"}), frozenset({"sampler_name", "scheduler"})}


def pairs(section: Sequence[Field]) -> list[list[Field]]:
    """A section's fields as rows: two small fields (numbers, choices, short texts) side by
    side, related ones together (width and height, min and max, steps and CFG...), two long
    texts side by side (the page stacks them when narrow); an upload, a seed alone."""
    rows: list[list[Field]] = []
    i = 0
    while i < len(section):
        f = section[i]
        after = section[i + 1] if i + 1 < len(section) else None
        later = section[i + 2] if i + 2 < len(section) else None
        if after is not None and (
            (f.kind == after.kind == "textarea")
            or (
                _compact(f)
                and _compact(after)
                and (_related(f, after) or later is None or not _related(after, later))
            )
        ):
            rows.append([f, after])
            i += 2
        else:
            rows.append([f])
            i += 1
    return rows


def _compact(f: Field) -> bool:
    return f.kind in COMPACT_KINDS and not (isinstance(f.value, str) and len(f.value) > 40)


def _related(a: Field, b: Field) -> bool:
    """Two knobs that belong side by side: width/height, x/y, min/max, start/end..."""
    names = frozenset({a.input_name.lower(), b.input_name.lower()})
    if names in SIDE_BY_SIDE:
        return True
    first, second = (PARTNERS.sub(_swap, f.input_name.lower()) for f in (a, b))
    return first == second and a.input_name != b.input_name


def _swap(match: re.Match[str]) -> str:
    return SWAPS.get(match[1], match[1])
