"""An engine that runs workflows on a real ComfyUI, through its HTTP and websocket API.

Uploads go to ``POST /upload/image``; the graph to ``POST /prompt``; ``/ws`` messages become
ComfyUI-like console lines (tqdm progress included); outputs come from ``executed`` messages (or
``/history``, polled, since it lags behind ``execution_success``) and are downloaded from ``/view``.
Binary ``/ws`` messages are preview frames (ComfyUI's server.py: a 4-byte big-endian event type,
``PREVIEW_IMAGE`` then the image type and the bytes, or, as we ask with the feature flag
``supports_preview_metadata``, ``PREVIEW_IMAGE_WITH_METADATA`` then a JSON length, the JSON
naming the node, and the bytes); they go to the run's `preview` sink, undecoded.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import re
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import httpx
from websockets.exceptions import WebSocketException
from websockets.sync.client import ClientConnection, connect

from ..models import Preview
from ..nodespecs import core_specs
from ..progress import NODES_TO_RUN, tqdm_line
from ..workflow import ApiWorkflow, is_link, node_title
from .engine import EngineError, InputFiles, NodeFailure, PreviewSink, RunCancelled
from .nodes import OutputFile

OUTPUT_KEYS = ("images", "gifs", "audio", "video", "videos", "files", "3d")
HISTORY_POLLS = 50
MAX_INPUT_COPY = 50 * 1024 * 1024  # a workflow's input file shown in the form
SAFE_SUFFIX = re.compile(r"\.[a-z0-9]{1,8}")
POLL_INTERVAL = 0.1
PREVIEW_IMAGE, PREVIEW_IMAGE_WITH_METADATA = 1, 4  # ComfyUI's BinaryEventTypes
IMAGE_TYPES = {1: "image/jpeg", 2: "image/png"}
FEATURE_FLAGS = {"type": "feature_flags", "data": {"supports_preview_metadata": True}}


class ComfyUIEngine:
    """Runs each request's graph on the ComfyUI at `url` (e.g. ``http://127.0.0.1:8188``)."""

    name = "comfyui"

    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout)

    def ping(self) -> None:
        """Raise EngineError with the URL tried if ComfyUI does not answer."""
        try:
            self._http.get("/system_stats").raise_for_status()
        except httpx.HTTPError as exc:
            raise EngineError(
                f"ComfyUI is not reachable at {self.url} ({exc}); start it or fix --comfyui-url"
            ) from None

    def object_info(self) -> dict[str, Any]:
        self.ping()
        return self._http.get("/object_info").json()

    def check(self, workflow: ApiWorkflow, inputs: InputFiles) -> None:
        """ComfyUI validates the graph itself when the prompt is queued."""

    def input_file(self, name: str, folder: Path, max_bytes: int = MAX_INPUT_COPY) -> Path | None:
        """A copy of the input file `name` on this ComfyUI (``/view``, type input), kept in
        `folder` under a name made of a digest of the server and `name` (never the name
        itself); None when the server has no such file, it is over `max_bytes`, or it cannot
        be reached."""
        subfolder, _, filename = name.replace("\\", "/").rpartition("/")
        suffix = PurePosixPath(filename).suffix.lower()
        digest = hashlib.sha256(f"{self.url}\0{name}".encode()).hexdigest()[:24]
        path = folder / (digest + (suffix if SAFE_SUFFIX.fullmatch(suffix) else ""))
        if path.is_file():
            return path
        params = {"filename": filename, "subfolder": subfolder, "type": "input"}
        try:
            with self._http.stream("GET", "/view", params=params) as reply:
                if reply.status_code != 200:
                    return None
                content = bytearray()
                for chunk in reply.iter_bytes():
                    content += chunk
                    if len(content) > max_bytes:
                        return None
        except httpx.HTTPError:
            return None
        folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(path.suffix + f".{uuid.uuid4().hex[:8]}.part")
        partial.write_bytes(content)
        partial.replace(path)
        return path

    def run(
        self,
        workflow: ApiWorkflow,
        inputs: InputFiles,
        log: Callable[[str], None],
        cancelled: threading.Event,
        preview: PreviewSink | None = None,
    ) -> list[OutputFile]:
        started = time.monotonic()
        client_id = uuid.uuid4().hex
        try:
            workflow = self._upload_files(workflow, inputs)
            with connect(self._ws_url(client_id), open_timeout=10, max_size=None) as ws:
                ws.send(json.dumps(FEATURE_FLAGS))  # previews then name their node
                prompt_id = self._queue(workflow, client_id)
                log("got prompt")
                log(NODES_TO_RUN.format(count=len(_nodes_to_run(workflow))))
                outputs = self._follow(ws, prompt_id, workflow, log, cancelled, preview)
            if not outputs:
                outputs = self._history_outputs(prompt_id)
            files = [self._download(entry) for entry in outputs]
        except (httpx.TransportError, OSError, WebSocketException) as exc:
            raise EngineError(f"lost contact with ComfyUI at {self.url} ({exc})") from exc
        log(f"Prompt executed in {time.monotonic() - started:.2f} seconds")
        return files

    # --- steps -------------------------------------------------------------------------------

    def _upload_files(self, workflow: ApiWorkflow, inputs: InputFiles) -> ApiWorkflow:
        """Upload each file the graph names that we hold (uploads, then the input folder), and
        point its node input at the name ComfyUI gives it.

        ComfyUI's input folder is shared by every run, so each file is stored under a name
        prefixed with a digest of its bytes: two runs that both upload a different
        ``photo.png`` never overwrite each other's file, and identical bytes keep one name
        (so ComfyUI's cache still recognises them)."""
        result = {
            node_id: {**node, "inputs": dict(node.get("inputs") or {})}
            for node_id, node in workflow.items()
        }
        for node in result.values():
            for name, value in node["inputs"].items():
                path = inputs.find(value) if isinstance(value, str) else None
                if path is None:
                    continue
                content = path.read_bytes()
                stored = f"{hashlib.sha256(content).hexdigest()[:16]}-{path.name}"
                reply = self._http.post(
                    "/upload/image",
                    files={"image": (stored, content)},
                    data={"type": "input", "overwrite": "true"},
                )
                if reply.status_code != 200:
                    raise EngineError(
                        f"ComfyUI refused the upload {path.name!r} (HTTP {reply.status_code})"
                    )
                body = reply.json()
                node["inputs"][name] = (
                    f"{body['subfolder']}/{body['name']}" if body.get("subfolder") else body["name"]
                )
        return result

    def _queue(self, workflow: ApiWorkflow, client_id: str) -> str:
        reply = self._http.post("/prompt", json={"prompt": workflow, "client_id": client_id})
        if reply.status_code == 400:
            raise EngineError(_validation_message(reply, workflow))
        if reply.status_code != 200:
            raise EngineError(
                f"ComfyUI refused the prompt (HTTP {reply.status_code}): {reply.text[:200]}"
            )
        return reply.json()["prompt_id"]

    def _follow(
        self,
        ws: ClientConnection,
        prompt_id: str,
        workflow: ApiWorkflow,
        log: Callable[[str], None],
        cancelled: threading.Event,
        preview: PreviewSink | None = None,
    ) -> list[dict[str, Any]]:
        outputs: list[dict[str, Any]] = []
        node_started, node = time.monotonic(), ""
        for message in _messages(ws, cancelled):
            if message is None:  # the caller went away
                self._cancel(prompt_id)
                raise RunCancelled("the run was cancelled")
            if isinstance(message, bytes):
                frame = preview_frame(message, prompt_id, node) if preview else None
                if frame is not None and preview is not None:
                    preview(frame)
                continue
            kind, data = message.get("type"), message.get("data") or {}
            if data.get("prompt_id") not in (None, prompt_id):
                continue  # another client's prompt
            if kind == "executing":
                if data.get("node") is None:
                    break  # this prompt is finished
                node_started, node = time.monotonic(), str(data["node"])
                log(f"Executing node {data['node']} ({_describe(workflow, data['node'])})")
            elif kind == "progress":
                log(
                    tqdm_line(int(data["value"]), int(data["max"]), time.monotonic() - node_started)
                )
            elif kind == "execution_cached" and data.get("nodes"):
                names = ", ".join(_describe(workflow, n) for n in data["nodes"])
                log(f"Reusing cached results of {len(data['nodes'])} nodes: {names}")
            elif kind == "executed":
                outputs += _output_entries(data.get("output") or {})
            elif kind == "execution_error":
                message_text = str(data.get("exception_message", "")).strip()
                raise NodeFailure(
                    f"{data.get('exception_type', 'error')}: {message_text}",
                    node_id=str(data.get("node_id") or "?"),
                    node_type=str(data.get("node_type") or "?"),
                )
            elif kind == "execution_interrupted":
                raise RunCancelled("ComfyUI interrupted the run")
        return outputs

    def _history_outputs(self, prompt_id: str) -> list[dict[str, Any]]:
        """Outputs from /history, which may not have the prompt yet right after it finished."""
        for _ in range(HISTORY_POLLS):
            entry = self._http.get(f"/history/{prompt_id}").json().get(prompt_id)
            if entry:
                found: list[dict[str, Any]] = []
                for output in (entry.get("outputs") or {}).values():
                    found += _output_entries(output)
                return found
            time.sleep(POLL_INTERVAL)
        raise EngineError(f"ComfyUI finished prompt {prompt_id} but never recorded it in /history")

    def _download(self, entry: dict[str, Any]) -> OutputFile:
        if "text" in entry:
            return OutputFile("output.txt", "text/plain", str(entry["text"]).encode())
        params = {k: entry.get(k, "") for k in ("filename", "subfolder", "type")}
        reply = self._http.get("/view", params=params)
        if reply.status_code != 200:
            raise EngineError(
                f"ComfyUI has no output file {entry.get('filename')!r} (HTTP {reply.status_code})"
            )
        filename = str(entry.get("filename") or "output")
        content_type = entry.get("format") if "/" in str(entry.get("format", "")) else None
        content_type = (
            content_type
            or mimetypes.guess_type(filename)[0]
            or reply.headers.get("content-type", "application/octet-stream")
        )
        return OutputFile(filename, content_type.split(";")[0], reply.content)

    def _cancel(self, prompt_id: str) -> None:
        """Remove the prompt from the queue, or interrupt it if (and only if) it is running."""
        try:
            queue = self._http.get("/queue").json()
            if any(item[1] == prompt_id for item in queue.get("queue_pending", [])):
                self._http.post("/queue", json={"delete": [prompt_id]})
            elif any(item[1] == prompt_id for item in queue.get("queue_running", [])):
                self._http.post("/interrupt", json={"prompt_id": prompt_id})
        except (httpx.HTTPError, ValueError, IndexError, TypeError):
            pass  # best effort: the caller is gone either way

    def _ws_url(self, client_id: str) -> str:
        parts = urlsplit(self.url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return f"{scheme}://{parts.netloc}{parts.path}/ws?clientId={client_id}"


def _messages(
    ws: ClientConnection, cancelled: threading.Event
) -> Iterator[dict[str, Any] | bytes | None]:
    """JSON messages from the websocket, binary ones as bytes; None when cancelled."""
    while True:
        if cancelled.is_set():
            yield None
            return
        try:
            raw = ws.recv(timeout=0.2)
        except TimeoutError:
            continue
        yield json.loads(raw) if isinstance(raw, str) else bytes(raw)


def preview_frame(message: bytes, prompt_id: str, node_id: str) -> Preview | None:
    """The preview frame in a binary message (its node: the metadata's, else `node_id`, the
    node executing), or None for other messages, other prompts' frames and malformed ones."""
    if len(message) < 8:
        return None
    event, word = struct.unpack_from(">II", message)
    if event == PREVIEW_IMAGE and word in IMAGE_TYPES:
        return Preview("", node_id, IMAGE_TYPES[word], message[8:])
    if event != PREVIEW_IMAGE_WITH_METADATA or len(message) < 8 + word:
        return None
    try:
        meta = json.loads(message[8 : 8 + word])
    except ValueError:
        return None
    if not isinstance(meta, dict) or meta.get("prompt_id") not in (None, prompt_id):
        return None
    content_type = meta.get("image_type")
    if content_type not in IMAGE_TYPES.values():
        return None
    shown = meta.get("display_node_id") or meta.get("node_id") or node_id
    return Preview("", str(shown), content_type, message[8 + word :])


def _output_entries(output: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Files (and texts) from one node's output, whatever key its kind is reported under."""
    entries: list[dict[str, Any]] = []
    for key in OUTPUT_KEYS:
        entries += [
            e for e in output.get(key) or [] if isinstance(e, Mapping) and e.get("filename")
        ]
    entries += [{"text": text} for text in output.get("text") or [] if isinstance(text, str)]
    return entries


def _nodes_to_run(workflow: ApiWorkflow) -> set[str]:
    """The nodes ComfyUI executes: its output nodes (by the core declarations; an unknown node
    no other node reads counts as one) and what they depend on."""
    read = {v[0] for node in workflow.values() for v in (node.get("inputs") or {}).values() if is_link(v)}  # fmt: skip
    specs = core_specs()

    def is_output(node_id: str) -> bool:
        spec = specs.get(workflow[node_id].get("class_type"))
        return spec.output_node if spec else node_id not in read

    needed: set[str] = set()
    stack = [node_id for node_id in workflow if is_output(node_id)]
    while stack:
        node_id = stack.pop()
        if node_id in needed or node_id not in workflow:
            continue
        needed.add(node_id)
        stack += [v[0] for v in (workflow[node_id].get("inputs") or {}).values() if is_link(v)]
    return needed


def _describe(workflow: ApiWorkflow, node_id: str) -> str:
    node = workflow.get(node_id) or {}
    title, class_type = node_title(node) or node_id, node.get("class_type", "?")
    return f"{title}, {class_type}" if title != class_type else str(class_type)


def _validation_message(reply: httpx.Response, workflow: ApiWorkflow) -> str:
    """ComfyUI's 400 as one sentence naming the node and the input at fault."""
    try:
        body = reply.json()
    except ValueError:
        return f"ComfyUI rejected the workflow: {reply.text[:200]}"
    problems = []
    for node_id, info in (body.get("node_errors") or {}).items():
        for error in info.get("errors") or []:
            input_name = (error.get("extra_info") or {}).get("input_name")
            where = f"node {node_id} ({_describe(workflow, node_id)})" + (
                f" input {input_name!r}" if input_name else ""
            )
            problems.append(f"{where}: {_error_text(error, input_name)}")
    if not problems:
        error = body.get("error") or {}
        problems.append(str(error.get("message") or body))
        missing = re.fullmatch(r"Cannot execute because node (.+) does not exist\.", problems[0])
        if missing:  # a custom node this ComfyUI lacks
            problems[0] = (
                f"node type {missing[1]!r} is not installed there; install the custom node pack "
                "that provides it (e.g. with ComfyUI-Manager) and restart ComfyUI"
            )
    return "ComfyUI rejected the workflow: " + "; ".join(problems)


def _error_text(error: Mapping[str, Any], input_name: str | None) -> str:
    """One node error of a ComfyUI 400 in words (ComfyUI 0.3.x shapes)."""
    kind, extra = error.get("type"), error.get("extra_info") or {}
    message, details = str(error.get("message") or kind), str(error.get("details") or "")
    if kind == "value_not_in_list":
        config = extra.get("input_config") or [[]]
        choices = config[0] if isinstance(config[0], list) else []
        value = extra.get("received_value")
        if not choices:
            return f"{value!r} is not available on this ComfyUI, which lists none (install it)"
        shown = ", ".join(map(repr, choices[:8])) + (" ..." if len(choices) > 8 else "")
        return f"{value!r} is not one of its choices ({shown})"
    if kind == "exception_during_validation" and extra.get("exception_type") == "KeyError":
        return f"links to node {details.strip(chr(39))!r}, which is not in the workflow"
    if input_name and details.startswith(f"{input_name} - "):
        details = details[len(input_name) + 3 :]  # custom_validation_failed repeats the name
    elif details == input_name:
        details = ""
    return f"{message}: {details}" if details else message
