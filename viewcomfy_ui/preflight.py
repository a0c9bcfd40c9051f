"""What a ComfyUI lacks to run a workflow, found before Run: pure, no I/O.

Given an API workflow and that server's ``/object_info``: the node types it does not declare
(with the pack that provides each, when the bundled declarations know it) and the files a node
names that it does not list: a model a loader names (any choice input whose choices, or value,
look like file names: ``ckpt_name``, ``lora_name``, ``vae_name``...) and an upload's input file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Container, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from .nodespecs import InputSpec, NodeSpecs, core_object_info
from .workflow import is_link

FILE_NAME = re.compile(r"\.[A-Za-z][A-Za-z0-9_]{0,11}$")  # "x.safetensors"; not "v1.5"
SHOWN = 3  # names in a refusal before "..."


@dataclass(frozen=True)
class MissingNode:
    """A node type the server lacks; `pack` provides it (a bundled pack's folder name, or
    "ComfyUI core" for a core node newer than the server), None when unknown."""

    class_type: str
    node_ids: tuple[str, ...]
    pack: str | None

    def line(self) -> str:
        source = f"from {self.pack}" if self.pack else "from a custom node pack"
        where = ", ".join(self.node_ids[:SHOWN]) + (", ..." if len(self.node_ids) > SHOWN else "")
        todo = "update ComfyUI" if self.pack == "ComfyUI core" else "install it"
        return f"node type {self.class_type!r} ({source}; node {where}): {todo}"


@dataclass(frozen=True)
class MissingFile:
    """A file a node input names that the server does not list: a model (`upload` False) or
    an input file for an upload."""

    node_id: str
    class_type: str
    input: str
    value: str
    upload: bool

    def line(self) -> str:
        where = f"node {self.node_id} ({self.class_type}) {self.input}"
        if self.upload:
            return f"{where}: {self.value!r} is not on the server; upload a file in the form"
        return f"{where}: the model file {self.value!r} is not on the server; add it there"


@dataclass(frozen=True)
class Preflight:
    """Everything a server lacks for a workflow. `blocking` problems make Run refuse; a missing
    upload does not (the form can send a file)."""

    nodes: tuple[MissingNode, ...] = ()
    files: tuple[MissingFile, ...] = ()

    @property
    def models(self) -> tuple[MissingFile, ...]:
        return tuple(f for f in self.files if not f.upload)

    def lines(self) -> list[str]:
        """One line per problem, node types first."""
        return [n.line() for n in self.nodes] + [f.line() for f in self.files]

    def refusal(self) -> str | None:
        """Why Run would fail, in one line naming the counts and the first few; None if it
        would not."""
        parts = []
        if self.nodes:
            parts.append(_counted(len(self.nodes), "node type", [n.class_type for n in self.nodes]))
        if self.models:
            parts.append(_counted(len(self.models), "model file", [f.value for f in self.models]))
        if not parts:
            return None
        return f"Not sent: the server lacks {' and '.join(parts)}; see the problems listed above."


def check(
    api: Mapping[str, Any], object_info: Mapping[str, Any], held: Container[str] = ()
) -> Preflight:
    """What the server declared by `object_info` lacks to run `api`. `held`: upload file names
    the app sends itself (its input folder), so the server need not have them."""
    server = NodeSpecs.from_object_info(object_info)
    missing: dict[str, list[str]] = {}
    files: list[MissingFile] = []
    for node_id, node in api.items():
        class_type = str(node.get("class_type"))
        spec = server.get(class_type)
        if spec is None:
            missing.setdefault(class_type, []).append(str(node_id))
            continue
        for name, value in (node.get("inputs") or {}).items():
            declared = spec.inputs.get(name)
            if declared is None or is_link(value) or not isinstance(value, str):
                continue
            if _missing_file(declared, value) and not (declared.upload and value in held):
                upload = declared.upload is not None
                files.append(MissingFile(str(node_id), class_type, name, value, upload))
    nodes = tuple(MissingNode(c, tuple(ids), pack_of(c)) for c, ids in missing.items())
    return Preflight(nodes, tuple(files))


def pack_of(class_type: str) -> str | None:
    """The pack that provides a node type, as far as the bundled declarations know."""
    if class_type in core_object_info():
        return "ComfyUI core"
    return bundled_packs().get(class_type)


@cache
def bundled_packs() -> dict[str, str]:
    """Node type -> the folder name of the bundled custom node pack that declares it."""
    text = resources.files("viewcomfy_ui").joinpath("data/custom_nodes.json").read_text("utf-8")
    return {name: node["pack"] for name, node in json.loads(text).items() if node.get("pack")}


def _missing_file(declared: InputSpec, value: str) -> bool:
    """A choice input listing files (or none) lacks the file `value`."""
    if declared.type != "COMBO" or declared.open_choices or not FILE_NAME.search(value):
        return False
    choices = [str(c) for c in declared.choices or ()]
    if choices and not any(FILE_NAME.search(c) for c in choices):
        return False  # a list of words (samplers, modes): not files
    return _path(value) not in {_path(c) for c in choices}


def _path(name: str) -> str:
    """A file name as listed on any server (Windows lists subfolders with backslashes)."""
    return name.replace("\\", "/")


def _counted(count: int, noun: str, names: list[str]) -> str:
    shown = ", ".join(names[:SHOWN]) + (", ..." if count > SHOWN else "")
    return f"{count} {noun}{'s' if count > 1 else ''} ({shown})"
