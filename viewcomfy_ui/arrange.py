"""The order and sections of a form without curation. Pure: no I/O.

Nodes come in this order: prompts and uploads first, then the seed, the size, the steps and the
sampler, then the rest by graph position (inputs before what they feed). Internal knobs
(precision, device, tiling, file prefixes, JSON blobs, display-only nodes) go to Advanced, and
about `MAX_OPEN` fields stay open at first, whole nodes at a time: the rest go to Advanced too.
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
SAMPLER_NAMES = {"sampler_name", "sampler", "scheduler", "cfg", "guidance", "denoise"}
INTERNAL = re.compile(
    r"precision|dtype|device|tile|tiling|overlap|offload|attention|vram|cache|"
    r"filename_prefix|save_output|format|^crf$|pix_fmt|quantization|weight_dtype|compile",
    re.IGNORECASE,
)
DISPLAY_ONLY = re.compile(r"show|display|preview|note|markdown|console|debug", re.IGNORECASE)


def arrange(
    fields: Sequence[Field], reads: Mapping[str, set[str]], layout: Layout | None = None
) -> list[Field]:
    """`fields` in form order, with internal knobs and what lies beyond `MAX_OPEN` advanced.

    `reads` maps each node id to the node ids whose outputs it reads (the workflow's links);
    `layout` is a UI-format file's groups, notes and seed modes.
    """
    fields = [replace(f, advanced=True) if _is_internal(f) else f for f in fields]
    if layout is not None:
        fields = _laid_out(fields, layout)
    position = _graph_position(reads, [f.node_id for f in fields])
    by_node: dict[str, list[Field]] = {}
    for f in fields:
        by_node.setdefault(f.node_id, []).append(f)
    nodes = sorted(by_node, key=lambda n: (min(_rank(f) for f in by_node[n]), position[n]))
    if layout is not None:  # a section's nodes together, where its first node comes
        units: dict[str, list[str]] = {}
        for n in nodes:
            units.setdefault(by_node[n][0].group or n, []).append(n)
        nodes = [n for unit in units.values() for n in unit]
    arranged = [f for node in _cap([by_node[n] for n in nodes]) for f in node]
    return _with_section_help(arranged, layout) if layout is not None else arranged


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


def _cap(nodes: list[list[Field]]) -> list[list[Field]]:
    """Keep about `MAX_OPEN` fields open, a node's fields together: a node opens whole when it
    fits in `MAX_OPEN` + `OVERSHOOT`, else all of it goes to Advanced (only a first node too big
    for the form alone is cut at `MAX_OPEN`)."""
    open_count = 0
    capped = []
    for fields in nodes:
        wanted = sum(not f.advanced for f in fields)
        if not wanted:
            capped.append(fields)
        elif open_count == 0 and wanted > MAX_OPEN + OVERSHOOT:
            capped.append(_cut(fields, MAX_OPEN))
            open_count = MAX_OPEN
        elif open_count < MAX_OPEN and open_count + wanted <= MAX_OPEN + OVERSHOOT:
            capped.append(fields)
            open_count += wanted
        else:
            capped.append([replace(f, advanced=True) for f in fields])
    return capped


def _cut(fields: list[Field], room: int) -> list[Field]:
    """The first `room` open fields stay open, the rest go to Advanced."""
    cut = []
    for f in fields:
        if not f.advanced:
            room -= 1
            f = f if room >= 0 else replace(f, advanced=True)
        cut.append(f)
    return cut


def _rank(f: Field) -> int:
    """0 prompts and uploads, 1 seed, 2 size, 3 steps, 4 sampler, 5 the rest."""
    name = f.input_name.lower()
    if f.advanced:
        return 5
    if f.kind in MEDIA_KINDS or (f.kind in ("text", "textarea") and "prompt" in f.label.lower()):
        return 0
    if f.kind == "seed":
        return 1
    if name in SIZE_NAMES or name.endswith(("_width", "_height")):
        return 2
    if name in STEPS_NAMES:
        return 3
    if name in SAMPLER_NAMES:
        return 4
    return 5


def _is_internal(f: Field) -> bool:
    """A knob most users never touch: precision, device, tiling, file names, JSON, displays."""
    if f.kind in MEDIA_KINDS or f.kind == "seed":
        return False
    if INTERNAL.search(f.input_name):
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
