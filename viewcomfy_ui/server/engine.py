"""Engines execute a workflow for the server. The built-in one runs model-free core nodes.

An engine has `check(workflow, inputs)` (raise before a run starts) and `run(...)`, which
executes in a worker thread, writes ComfyUI-like console lines to `log`, stops when `cancelled`
is set, and returns the output files. An engine whose `run` also takes `preview` calls it with
live preview frames (`models.Preview`, prompt id left empty) when it is given. A failure is an
`EngineError`: a `NodeFailure` (reason, node id, class type) when one node is at fault, which
the server sends as `models.Failure`.
"""

from __future__ import annotations

import io
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any, Protocol

from PIL import Image

from ..errors import ViewComfyError, at_node
from ..models import Preview
from ..nodespecs import InputSpec, bundled_specs, core_specs
from ..paths import find_inside
from ..progress import tqdm_line
from ..workflow import ApiWorkflow, is_link
from .budget import Limits, PlanError, RunPlan, check_budget, default_max_image_bytes
from .nodes import (
    NODES,
    Cancelled,
    Node,
    OutputFile,
    OutputsOverLimit,
    RunContext,
    cancellable,
    thumbnail,
)

PreviewSink = Callable[[Preview], None]
PREVIEW_STEP_SECONDS = 0.25  # the built-in engine's slow effect: 6 steps, 1.5 s (previews only)

UNSUPPORTED_SHOWN = 5  # other node types a refusal names before "..."


class EngineError(ViewComfyError):
    """A run failed (or an engine cannot start); the message is shown to the user."""


class NodeFailure(EngineError):
    """One node failed (or cannot run): the bare `reason`, and the node's id and class type.
    `str()` is one line: "node 3 (ImageBlur): reason"."""

    def __init__(self, reason: str, *, node_id: str, node_type: str) -> None:
        super().__init__(at_node(reason, node_id, node_type))
        self.reason, self.node_id, self.node_type = reason, node_id, node_type


class InvalidInputError(EngineError):
    """A parameter cannot be used (e.g. a missing upload): the server answers 422."""

    def __init__(self, message: str, *, key: str) -> None:
        super().__init__(message)
        self.key = key


class RunCancelled(EngineError):
    """The client went away; the run stopped."""


class Engine(Protocol):
    name: str

    def check(self, workflow: ApiWorkflow, inputs: InputFiles) -> None: ...

    def run(
        self,
        workflow: ApiWorkflow,
        inputs: InputFiles,
        log: Callable[[str], None],
        cancelled: threading.Event,
    ) -> list[OutputFile]: ...


class InputFiles:
    """Resolves file names in a workflow: a run's uploads first, then a shared input folder.

    Names are confined to those folders: ``..`` or absolute paths never escape them.
    """

    def __init__(self, uploads: Path, shared: Path | None = None) -> None:
        self.uploads = uploads.resolve()
        self.shared = shared.resolve() if shared else None

    def find(self, name: str) -> Path | None:
        found = find_inside(self.uploads, name)
        return found or (find_inside(self.shared, name) if self.shared else None)


class MemoryPool:
    """Image bytes shared by the runs at once: `hold` waits until a run's planned bytes fit."""

    def __init__(self, capacity: int) -> None:
        self.capacity = self.free = capacity
        self._changed = threading.Condition()

    @contextmanager
    def hold(
        self, amount: int, cancelled: threading.Event, log: Callable[[str], None]
    ) -> Iterator[None]:
        amount = min(amount, self.capacity)
        with self._changed:
            if self.free < amount:
                log("waiting for other runs to free memory")
            while self.free < amount:
                if cancelled.is_set():
                    raise RunCancelled("the run was cancelled while it waited")
                self._changed.wait(0.2)
            self.free -= amount
        try:
            yield
        finally:
            with self._changed:
                self.free += amount
                self._changed.notify_all()


class BuiltinEngine:
    """Runs graphs of model-free core ComfyUI nodes (image operations) with Pillow and numpy.

    A run may hold at most `max_image_bytes` of image data at once (default:
    `default_max_image_bytes`), its nodes' scratch memory included, and write at most
    `max_output_files` files of `max_output_bytes` in all; `check` refuses a graph over them, or
    with a value outside a node's declared range, before anything is decoded or allocated; a run
    whose files go over them while it runs fails. Runs at once share twice the image budget: a
    run whose images do not fit yet waits for others to finish.

    Given a `preview` sink, it shows each node's first image as it is made, and ImageBlur shows
    its blur growing in steps `preview_step_seconds` apart (the demo's slow effect, so a run
    on it shows live previews); without one it runs at full speed.
    """

    name = "builtin"

    def __init__(
        self,
        max_image_bytes: int | None = None,
        max_output_bytes: int | None = None,
        max_output_files: int | None = None,
        preview_step_seconds: float = PREVIEW_STEP_SECONDS,
    ) -> None:
        self.preview_step_seconds = preview_step_seconds
        defaults = Limits()
        self.limits = Limits(
            max_image_bytes or default_max_image_bytes(),
            max_output_bytes or defaults.output_bytes,
            max_output_files or defaults.output_files,
        )
        self.memory = MemoryPool(2 * self.limits.image_bytes)

    @property
    def max_image_bytes(self) -> int:
        return self.limits.image_bytes

    def check(self, workflow: ApiWorkflow, inputs: InputFiles) -> None:
        outputs = any(_is_output(node.get("class_type")) for node in workflow.values())
        needed = _needed_nodes(workflow) if outputs else set(workflow)
        _refuse_unsupported(workflow, needed)
        needed = _needed_nodes(workflow)  # with no output node: says so
        for node_id in (n for n in workflow if n in needed):  # the file's order: same each time
            class_type = workflow[node_id].get("class_type")
            for name, value in (workflow[node_id].get("inputs") or {}).items():
                if is_link(value) and value[0] not in workflow:
                    raise NodeFailure(
                        f"input {name!r} links to node {value[0]!r}, which is not in the workflow",
                        node_id=node_id,
                        node_type=str(class_type),
                    )
        for node_id in needed:
            node = workflow[node_id]
            if node["class_type"] in ("LoadImage", "LoadImageMask"):
                image = (node.get("inputs") or {}).get("image")
                if not isinstance(image, str) or inputs.find(image) is None:
                    raise InvalidInputError(
                        f"node {node_id} ({node['class_type']}) needs the image {image!r}, which "
                        f"was not uploaded; send it as the file part '{node_id}-inputs-image'",
                        key=f"{node_id}-inputs-image",
                    )
        self.plan(workflow, inputs)

    def plan(self, workflow: ApiWorkflow, inputs: InputFiles) -> RunPlan:
        """What the run will need (image bytes at its peak, files); InvalidInputError when a
        value is out of range or the run would go over a limit."""
        order = _execution_order(workflow, _needed_nodes(workflow))
        try:
            return check_budget(order, workflow, node_inputs, _node, inputs.find, self.limits)
        except PlanError as exc:
            raise InvalidInputError(str(exc), key=exc.node_id) from exc

    def run(
        self,
        workflow: ApiWorkflow,
        inputs: InputFiles,
        log: Callable[[str], None],
        cancelled: threading.Event,
        preview: PreviewSink | None = None,
    ) -> list[OutputFile]:
        start = time.monotonic()
        log("got prompt")
        needed = self.plan(workflow, inputs).memory
        with self.memory.hold(needed, cancelled, log), cancellable(cancelled):
            return self._execute(workflow, inputs, log, cancelled, start, preview)

    def _execute(
        self,
        workflow: ApiWorkflow,
        inputs: InputFiles,
        log: Callable[[str], None],
        cancelled: threading.Event,
        start: float,
        preview: PreviewSink | None,
    ) -> list[OutputFile]:
        order = _execution_order(workflow, _needed_nodes(workflow))
        results: dict[str, tuple[Any, ...]] = {}
        ctx = RunContext(
            resolve_input=lambda name: _existing(inputs, name),
            progress=lambda n, t: None,
            limits=self.limits,
            step_seconds=self.preview_step_seconds,
        )
        for done, node_id in enumerate(order, start=1):
            if cancelled.is_set():
                raise RunCancelled("the run was cancelled")
            node = workflow[node_id]
            class_type = node["class_type"]
            builtin = NODES[class_type]
            kwargs = node_inputs(node, results, class_type)
            if builtin.takes_ctx:
                kwargs["ctx"] = ctx
            ctx.progress = _node_progress(log, time.monotonic())
            ctx.preview = _node_preview(preview, node_id) if preview else None
            try:
                results[node_id] = builtin.run(**kwargs)
                if ctx.preview and results[node_id] and _is_image(results[node_id][0]):
                    ctx.preview(thumbnail(results[node_id][0][0]))
            except Cancelled as exc:
                raise RunCancelled(str(exc)) from exc
            except (ValueError, TypeError, KeyError, OSError, IndexError, OutputsOverLimit) as exc:
                raise NodeFailure(str(exc), node_id=node_id, node_type=class_type) from exc
            log(tqdm_line(done, len(order), time.monotonic() - start))
        log(f"Prompt executed in {time.monotonic() - start:.2f} seconds")
        return ctx.outputs


def _refuse_unsupported(workflow: ApiWorkflow, needed: set[str]) -> None:
    """A NodeFailure at the first needed node (in the file's order: the same each time) the
    built-in engine cannot run, naming every such node type."""
    unsupported: dict[str, str] = {}  # class type -> its first node
    for node_id in (n for n in workflow if n in needed):
        class_type = str(workflow[node_id].get("class_type"))
        if class_type not in NODES:
            unsupported.setdefault(class_type, node_id)
    if not unsupported:
        return
    (first, node_id), *others = unsupported.items()
    also = ""
    if others:
        names = ", ".join(c for c, _ in others[:UNSUPPORTED_SHOWN])
        more = ", ..." if len(others) > UNSUPPORTED_SHOWN else ""
        plural = "s" if len(others) > 1 else ""
        also = f"; nor can {len(others)} other node type{plural} here ({names}{more})"
    raise NodeFailure(
        "cannot run on the built-in engine, which runs only image nodes without models"
        f"{also}: run this workflow on your own ComfyUI or on ViewComfy (--help and the README "
        "say how to connect one)",
        node_id=node_id,
        node_type=first,
    )


def _node(class_type: str) -> Node:
    return NODES[class_type]


def _existing(inputs: InputFiles, name: str) -> Path:
    found = inputs.find(name)
    if found is None:
        raise FileNotFoundError(f"no input file named {name!r}")
    return found


def _node_progress(log: Callable[[str], None], start: float) -> Callable[[int, int], None]:
    def progress(n: int, total: int) -> None:
        if total > 1:
            log(tqdm_line(n, total, time.monotonic() - start))

    return progress


def _node_preview(sink: PreviewSink, node_id: str) -> Callable[[Image.Image], None]:
    def show(image: Image.Image) -> None:
        encoded = io.BytesIO()
        image.save(encoded, "JPEG", quality=85)
        sink(Preview("", node_id, "image/jpeg", encoded.getvalue()))

    return show


def _is_image(value: Any) -> bool:
    """A non-empty batch of images (``[b, h, w, 3]``)."""
    return getattr(value, "ndim", 0) == 4 and value.shape[0] > 0 and value.shape[-1] == 3


def node_inputs(
    node: Mapping[str, Any], results: Mapping[str, tuple[Any, ...]], class_type: str
) -> dict[str, Any]:
    """The node's inputs with links resolved and missing ones set to their declared defaults;
    ValueError for a value outside its declared range or choices."""
    spec = core_specs().get(class_type)
    kwargs: dict[str, Any] = {}
    if spec:
        for name, declared in spec.inputs.items():
            if "default" in declared.options:
                kwargs[name] = declared.options["default"]
            elif declared.choices:
                kwargs[name] = declared.choices[0]
    for name, value in (node.get("inputs") or {}).items():
        if spec and name not in spec.inputs:
            continue  # UI-only keys (upload, control_after_generate) are ignored, as ComfyUI does
        kwargs[name] = results[value[0]][value[1]] if is_link(value) else _coerce(value, spec, name)
        if spec and name in spec.inputs:
            check_declared(kwargs[name], spec.inputs[name], name)
    return kwargs


def check_declared(value: Any, declared: InputSpec, name: str) -> None:
    """ValueError when a number is outside its declared min/max or a choice not among the
    declared ones (upload and open lists, whose files differ per server, take any name)."""
    if declared.type in ("INT", "FLOAT") and isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{name} is {value}; send a finite number")
        low, high = declared.options.get("min"), declared.options.get("max")
        if low is not None and value < low:
            raise ValueError(f"{name} {value} is below its minimum {low}")
        if high is not None and value > high:
            raise ValueError(f"{name} {value} is above its maximum {high}")
    elif _closed_choice(declared) and value not in (declared.choices or ()):
        allowed = ", ".join(repr(choice) for choice in declared.choices or ())
        raise ValueError(f"{name} {_short(value)} is not one of its choices: {allowed}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _closed_choice(declared: InputSpec) -> bool:
    """A list of choices that is the same on every server (not files, not uploads)."""
    return bool(declared.choices) and not (declared.upload or declared.open_choices)


def _coerce(value: Any, spec: Any, name: str) -> Any:
    declared = spec.inputs.get(name) if spec else None
    if declared is None or value is None:
        return value
    if declared.type == "INT":
        return int(value)
    if declared.type == "FLOAT":
        return float(value)
    if declared.type == "BOOLEAN":
        return bool(value)
    return value


def _needed_nodes(workflow: ApiWorkflow) -> set[str]:
    """Output nodes and everything they depend on, as ComfyUI executes."""
    outputs = [nid for nid, node in workflow.items() if _is_output(node.get("class_type"))]
    if not outputs:
        raise EngineError("the workflow has no output node (SaveImage, PreviewImage, ...); add one")
    needed: set[str] = set()
    stack = list(outputs)
    while stack:
        node_id = stack.pop()
        if node_id in needed or node_id not in workflow:
            continue
        needed.add(node_id)
        stack.extend(v[0] for v in (workflow[node_id].get("inputs") or {}).values() if is_link(v))
    return needed


def _is_output(class_type: str | None) -> bool:
    """An output node, as the built-in nodes or the bundled declarations (core and custom
    packs: VHS_VideoCombine) say."""
    if class_type in NODES:
        return NODES[class_type].is_output
    spec = bundled_specs().get(class_type)
    return bool(spec and spec.output_node)


def _execution_order(workflow: ApiWorkflow, needed: set[str]) -> list[str]:
    graph = {
        node_id: {v[0] for v in (workflow[node_id].get("inputs") or {}).values() if is_link(v)}
        & needed
        for node_id in workflow
        if node_id in needed
    }
    try:
        return list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        cycle = " -> ".join(exc.args[1])
        raise EngineError(f"the workflow has a cycle: {cycle}; remove one of these links") from exc
