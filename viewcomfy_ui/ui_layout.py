"""What a UI-format file says about its form beyond the API prompt. Pure: no I/O.

Its groups become the form's sections (titled as in the graph; a node belongs to the innermost
group holding its centre, as the frontend decides), a Note or MarkdownNote in a group becomes
that section's help text, one outside any group the help of the section of the node nearest to
it (or of the whole form when no node is near), each seed's saved control (``fixed``,
``increment``...) its seed mode, and each subgraph instance's title names the nodes inside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

NOTE_TYPES = {"Note", "MarkdownNote"}
TITLE_HEIGHT = 30  # LiteGraph's node title bar, above a node's `pos`
NEAR = 200  # a note this close (edge to edge, in graph units) to a node explains it


@dataclass(frozen=True)
class Section:
    """A group of the graph: its title, the API node ids in it, the text of its notes."""

    title: str
    node_ids: tuple[str, ...]
    help: str | None = None


@dataclass(frozen=True)
class Note:
    """A note outside any group: its text and the API node ids near it, nearest first (none:
    the note is about the whole form)."""

    text: str
    near: tuple[str, ...] = ()


@dataclass(frozen=True)
class Layout:
    """Sections in the graph's order (top to bottom, left to right), notes outside groups,
    seed modes (by flattened key) and subgraph instances' titles (by top-level node id)."""

    sections: tuple[Section, ...] = ()
    notes: tuple[Note, ...] = ()
    seed_modes: Mapping[str, str] = field(default_factory=dict)
    instance_titles: Mapping[str, str] = field(default_factory=dict)

    def section_of(self, node_id: str) -> Section | None:
        for section in self.sections:
            if node_id in section.node_ids:
                return section
        return None


Rect = tuple[float, float, float, float]


def ui_layout(
    ui: Mapping[str, Any], api: Mapping[str, Any], seed_modes: Mapping[str, str]
) -> Layout:
    """The layout of a UI-format graph whose prompt is `api` (`ui_format.convert_ui`)."""
    nodes = [n for n in ui.get("nodes") or () if isinstance(n, Mapping) and _rect(n)]
    groups = [
        (str(g.get("title") or "").strip(), tuple(g["bounding"]))
        for g in ui.get("groups") or ()
        if isinstance(g, Mapping) and _is_rect(g.get("bounding"))
    ]
    group_of = {str(n.get("id")): _innermost(_rect(n), groups) for n in nodes}
    runnable = {top: [i for i in api if i.split(":")[0] == top] for top in group_of}
    members: dict[int, list[str]] = {}
    for top, index in group_of.items():
        if index is not None:
            members.setdefault(index, []).extend(runnable.get(top, []))
    notes: dict[int, list[str]] = {}
    loose: list[Note] = []
    for note in nodes:
        text = _note_text(note)
        if not text:
            continue
        index = group_of[str(note.get("id"))]
        if members.get(index):
            notes.setdefault(index, []).append(text)
            continue
        near = _nearby(note, [n for n in nodes if runnable.get(str(n.get("id")))])
        loose.append(Note(text, tuple(i for n in near for i in runnable[str(n.get("id"))])))
    order = sorted(members, key=lambda i: (groups[i][1][1], groups[i][1][0]))
    sections = tuple(
        Section(groups[i][0] or f"Group {i + 1}", tuple(members[i]), _join(notes.get(i)))
        for i in order
        if members[i]
    )
    return Layout(
        sections=sections,
        notes=tuple(loose),
        seed_modes=dict(seed_modes),
        instance_titles=_instance_titles(ui),
    )


def _instance_titles(ui: Mapping[str, Any]) -> dict[str, str]:
    """Each subgraph instance's title: its own, else its subgraph's name."""
    definitions = ui.get("definitions")
    subgraphs = definitions.get("subgraphs") if isinstance(definitions, Mapping) else None
    names = {
        s.get("id"): str(s.get("name") or "").strip()
        for s in (subgraphs if isinstance(subgraphs, list) else ())
        if isinstance(s, Mapping)
    }
    titles = {}
    for node in ui.get("nodes") or ():
        kind = node.get("type") if isinstance(node, Mapping) else None
        if isinstance(kind, str) and kind in names:
            title = str(node.get("title") or "").strip() or names[kind]
            if title:
                titles[str(node.get("id"))] = title
    return titles


def _note_text(node: Mapping[str, Any]) -> str:
    if node.get("type") not in NOTE_TYPES or node.get("mode") in (2, 4):
        return ""
    values = node.get("widgets_values")
    text = values[0] if isinstance(values, list) and values else ""
    return text.strip() if isinstance(text, str) else ""


def _join(texts: list[str] | None) -> str | None:
    return "\n\n".join(texts) if texts else None


def _is_rect(value: Any) -> bool:
    return (
        isinstance(value, list | tuple)
        and len(value) == 4
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    )


def _rect(node: Mapping[str, Any]) -> Rect | None:
    """The node's bounding box, title bar included (LGraphNode.boundingRect)."""
    pos, size = node.get("pos"), node.get("size")
    if isinstance(pos, Mapping):  # very old saves: {"0": x, "1": y}
        pos = [pos.get("0"), pos.get("1")]
    if isinstance(size, Mapping):
        size = [size.get("0"), size.get("1")]
    rect = [*(pos or [])[:2], *(size or [])[:2]]
    if not _is_rect(rect):
        return None
    return (rect[0], rect[1] - TITLE_HEIGHT, rect[2], rect[3] + TITLE_HEIGHT)


def _innermost(rect: Rect | None, groups: list[tuple[str, tuple]]) -> int | None:
    """The smallest group that holds the centre of `rect`."""
    if rect is None:
        return None
    x, y = rect[0] + rect[2] / 2, rect[1] + rect[3] / 2
    holding = [
        i
        for i, (_, (gx, gy, gw, gh)) in enumerate(groups)
        if gx <= x <= gx + gw and gy <= y <= gy + gh
    ]
    return min(holding, key=lambda i: groups[i][1][2] * groups[i][1][3], default=None)


def _nearby(note: Mapping[str, Any], nodes: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The nodes whose boxes are within `NEAR` of the note's (edge to edge), nearest first."""
    a = _rect(note)
    if a is None:
        return []
    gaps = []
    for i, node in enumerate(nodes):
        b = _rect(node)
        if b is None:
            continue
        dx = max(b[0] - (a[0] + a[2]), a[0] - (b[0] + b[2]), 0)
        dy = max(b[1] - (a[1] + a[3]), a[1] - (b[1] + b[3]), 0)
        gap = (dx * dx + dy * dy) ** 0.5
        if gap <= NEAR:
            gaps.append((gap, i, node))
    return [node for _, _, node in sorted(gaps, key=lambda g: g[:2])]
