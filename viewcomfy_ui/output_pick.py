"""Which outputs of a run are its results, and which are by-products (previews, intermediates).
Pure: no I/O.

A ViewComfy result names each file (`filename`, `content_type`, `size`) but not the node that
made it, so the node is told from the name, as ComfyUI writes them:

- a preview node (PreviewImage, PreviewAudio, ...) writes ``<prefix>_temp_<5 letters>_<n>_``
  files (the built-in engine's, ``<prefix>_temp_<n>_``): a preview;
- a node with a ``filename_prefix`` writes ``<basename of the prefix>_<n>...`` (SaveImage,
  SaveVideo, SaveAudio, SaveGLB, VHS_VideoCombine, ...): that node, the longest prefix winning;
  ``%date:...%``-like parts of a prefix match anything. It saves unless its class is a Preview
  or its ``save_output`` is off (VHS_VideoCombine then writes to ComfyUI's temp folder).

The results are the outputs of saving nodes, or, when the author of a curated form picked
output nodes, of those nodes (a picked preview node takes the preview files). A file no rule
places counts as a result (never hide what cannot be told), and when nothing is a result,
every output is: a user's only output is never hidden.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Preview names: ComfyUI's ("_temp_" and 5 random letters), the built-in engine's ("_temp_")
TEMP_NAME = re.compile(r"_temp_(?:[a-z]{5}_)?\d")
PREFIX_TOKEN = re.compile(r"%[^%]*%")  # %date:yyyy-MM-dd%, %KSampler.seed%, %batch_num%


@dataclass(frozen=True)
class OutputNode:
    """A node of the graph that writes files: its id, class, whether it saves (a result) or
    previews, and the pattern of the file names it writes (None: it cannot be told)."""

    node_id: str
    class_type: str
    saves: bool
    names: re.Pattern[str] | None = None


@dataclass(frozen=True)
class OutputPick:
    """The output nodes of a workflow and the ones a curated form picked (none: every saving
    node's)."""

    nodes: tuple[OutputNode, ...] = ()
    picked: tuple[str, ...] = ()

    @classmethod
    def of(cls, workflow: Mapping[str, Any] | None, picked: Sequence[str] = ()) -> OutputPick:
        """From an API-format graph (None: a flattened file, no classes; names still tell
        previews apart)."""
        nodes = [_output_node(str(i), n) for i, n in (workflow or {}).items()]
        return cls(tuple(n for n in nodes if n is not None), tuple(picked))

    def origin(self, filename: str) -> OutputNode | None:
        """The node that wrote `filename`, when the name tells it."""
        name = re.split(r"[/\\]", filename)[-1]
        if TEMP_NAME.search(name):
            previews = [n for n in self.nodes if not n.saves and n.names is None]
            return previews[0] if len(previews) == 1 else _PREVIEW
        matches = [n for n in self.nodes if n.names is not None and n.names.match(name)]
        return max(matches, key=lambda n: len(n.names.pattern), default=None)  # type: ignore[union-attr]

    def is_result(self, filename: str) -> bool:
        """True for a result, False for a by-product (as the rules above place it)."""
        node = self.origin(filename)
        if node is None:
            return True
        if self.picked:
            picked_preview = node is _PREVIEW and any(
                not n.saves for n in self.nodes if n.node_id in self.picked
            )
            return node.node_id in self.picked or picked_preview
        return node.saves

    def results(self, filenames: Sequence[str]) -> list[bool]:
        """For each name, whether it is a result; all True when none would be."""
        flags = [self.is_result(name) for name in filenames]
        return flags if any(flags) else [True] * len(flags)


_PREVIEW = OutputNode("", "preview", saves=False)  # a preview file of an unknown node


def _output_node(node_id: str, node: Any) -> OutputNode | None:
    if not isinstance(node, Mapping):
        return None
    class_type = str(node.get("class_type") or "")
    inputs = node.get("inputs") if isinstance(node.get("inputs"), Mapping) else {}
    previews = class_type.startswith("Preview") or inputs.get("save_output") is False
    prefix = inputs.get("filename_prefix")
    if isinstance(prefix, str):
        return OutputNode(node_id, class_type, not previews, _names(prefix))
    return OutputNode(node_id, class_type, saves=False) if previews else None


def _names(prefix: str) -> re.Pattern[str] | None:
    """The names a node with this ``filename_prefix`` writes: the prefix's last component,
    then its counter (after a separator or not) or the extension: `photo` does not claim
    `photo_anim_00001_.webp`."""
    base = re.split(r"[/\\]", prefix)[-1]
    literal = PREFIX_TOKEN.split(base)
    if not "".join(literal).strip():
        return None
    pattern = ".*?".join(re.escape(part) for part in literal)
    return re.compile(rf"{pattern}(?=[_ -]?\d|\.|$)")
