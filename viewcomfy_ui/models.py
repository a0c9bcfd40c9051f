"""The prompt result a ViewComfy endpoint returns, field for field as its reference client, and
the failure a run reports. One model for both sides: the client parses these, the local server
writes them."""

from __future__ import annotations

import base64
import binascii
import io
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from .errors import MalformedResultError, ViewComfyError, at_node
from .workflow import is_number

Loader = Callable[[str, BinaryIO, str], Any]
"""Writes the body behind a link into a sink: ``loader(url, sink, output_name)``."""


@dataclass(init=False)
class FileOutput:
    """One output file: base64 `data` (the direct protocol), or a `filepath` link (newer
    deployments and the realtime gateway: an expiring https URL, fetched without the keys).

    `content()` gives the bytes either way (a link through the `loader` the client that
    returned the result gave it); `outputs.save_outputs` streams links to disk. `body` holds
    the file as it came: base64 text, or the bytes when the client decoded a big output on
    arrival (then `data` is encoded again only if asked for). Its repr never prints the file
    (it can be hundreds of MB).
    """

    filename: str
    content_type: str
    size: int = 0
    filepath: str | None = None
    body: str | bytes = field(default="", repr=False)
    loader: Loader | None = field(default=None, repr=False, compare=False)

    def __init__(
        self,
        filename: str,
        content_type: str,
        data: str = "",
        size: int = 0,
        filepath: str | None = None,
        *,
        body: str | bytes | None = None,
        loader: Loader | None = None,
    ) -> None:
        self.filename = filename
        self.content_type = content_type
        self.size = size
        self.filepath = filepath
        self.body = data if body is None else body
        self.loader = loader

    @property
    def data(self) -> str:
        """The file as base64 text, as in ViewComfy's reference client ("" for a link)."""
        body = self.body
        return body if isinstance(body, str) else binascii.b2a_base64(body, newline=False).decode()

    @data.setter
    def data(self, value: str) -> None:
        self.body = value

    def content(self) -> bytes:
        """The file's bytes (downloading a `filepath` link into memory; prefer `save_outputs`
        for big files). Raises MalformedResultError if `data` is not valid base64."""
        body = self.body
        if isinstance(body, bytes):
            return body
        if not body and self.filepath:
            if self.loader is None:
                raise ViewComfyError(
                    f"output {self.filename!r} is a link not fetched by a ViewComfyClient: "
                    "download it with save_outputs"
                )
            sink = io.BytesIO()
            self.loader(self.filepath, sink, self.filename)
            return sink.getvalue()
        try:  # straight from the text: base64.b64decode would first copy it to bytes
            return binascii.a2b_base64(body, strict_mode=True)
        except (binascii.Error, ValueError) as exc:
            raise MalformedResultError(
                f"output {self.filename!r} is not valid base64; the server sent a broken result"
            ) from exc

    @classmethod
    def from_json(cls, obj: Any) -> FileOutput:
        if not isinstance(obj, Mapping):
            raise MalformedResultError("an output in the result is not a JSON object")
        data, filepath = obj.get("data"), obj.get("filepath")  # data: bytes if decoded already
        if not isinstance(data, str | bytes) and not isinstance(filepath, str):
            raise MalformedResultError(
                f"output {str(obj.get('filename'))[:80]!r} has neither 'data' nor 'filepath'"
            )
        size = obj.get("size")
        return cls(
            filename=str(obj.get("filename") or "output"),
            content_type=str(obj.get("content_type") or "application/octet-stream"),
            size=size if isinstance(size, int) and not isinstance(size, bool) else 0,
            filepath=filepath if isinstance(filepath, str) else None,
            body=data if isinstance(data, str | bytes) else "",
        )

    def to_json(self) -> dict[str, Any]:
        """The output as a result carries it: `data` (base64) or a `filepath` link, never both."""
        where = {"filepath": self.filepath} if self.filepath else {"data": self.data}
        size = self.size or (len(self.body) if isinstance(self.body, bytes) else 0)
        return {"filename": self.filename, "content_type": self.content_type, **where, "size": size}


@dataclass
class PromptResult:
    """A run's result: its id, status, timing, the prompt that ran, and its output files.

    From the results API a run still going has `completed == False`; `error_data` is the
    gateway's error detail when it gives one.
    """

    prompt_id: str
    status: str
    completed: bool
    execution_time_seconds: float
    prompt: dict[str, Any]
    outputs: list[FileOutput] = field(default_factory=list)
    error_data: Any = None

    @classmethod
    def from_json(cls, obj: Any) -> PromptResult:
        """Validate a decoded `prompt_result`; raises MalformedResultError on a wrong shape."""
        if not isinstance(obj, Mapping):
            raise MalformedResultError("the prompt result is not a JSON object")
        outputs = obj.get("outputs") or []
        if not isinstance(outputs, list):
            raise MalformedResultError("the prompt result's 'outputs' is not a list")
        seconds = obj.get("execution_time_seconds")
        if isinstance(seconds, float) and not math.isfinite(seconds):
            raise MalformedResultError(
                "the prompt result's 'execution_time_seconds' is not a finite number"
            )
        prompt = obj.get("prompt")
        return cls(
            prompt_id=str(obj.get("prompt_id") or ""),
            status=str(obj.get("status") or ""),
            completed=bool(obj.get("completed", True)),
            execution_time_seconds=float(seconds) if is_number(seconds) else 0.0,
            prompt=dict(prompt) if isinstance(prompt, Mapping) else {},
            outputs=[FileOutput.from_json(o) for o in outputs],
            error_data=obj.get("error_data"),
        )

    def to_json(self) -> dict[str, Any]:
        """The `prompt_result` event / `infer_result_message` payload: exactly ViewComfy's
        PromptResult keys (`error_data` only when set: their client takes no other key)."""
        payload: dict[str, Any] = {
            "prompt_id": self.prompt_id,
            "status": self.status,
            "completed": self.completed,
            "execution_time_seconds": self.execution_time_seconds,
            "prompt": self.prompt,
            "outputs": [o.to_json() for o in self.outputs],
        }
        if self.error_data is not None:
            payload["error_data"] = self.error_data
        return payload

    def to_camel(
        self, *, created_at: str, workflow: Any, client_id: str | None, user: Any = None
    ) -> dict[str, Any]:
        """One entry of the gateway's results list: camelCase, every key present (ViewComfy's
        client deletes `createdAt`, `workflow`, `clientId` and `user`, so each must be there)."""
        outputs = []
        for o in self.outputs:
            entry = o.to_json()
            entry["contentType"] = entry.pop("content_type")
            outputs.append(entry)
        return {
            "promptId": self.prompt_id,
            "status": self.status,
            "completed": self.completed,
            "executionTimeSeconds": self.execution_time_seconds,
            "prompt": self.prompt,
            "outputs": outputs,
            "errorData": self.error_data,
            "createdAt": created_at,
            "workflow": workflow,
            "clientId": client_id,
            "user": user,
        }

    @classmethod
    def from_camel(cls, obj: Any) -> PromptResult:
        """A result from the gateway's results API (camelCase keys, `completed` as given)."""
        if not isinstance(obj, Mapping):
            raise MalformedResultError("a result in the results list is not a JSON object")
        outputs = obj.get("outputs") or []
        if not isinstance(outputs, list):
            raise MalformedResultError("a result's 'outputs' is not a list")
        return cls.from_json(
            {
                "prompt_id": obj.get("promptId"),
                "status": obj.get("status"),
                "completed": obj.get("completed") is True,
                "execution_time_seconds": obj.get("executionTimeSeconds"),
                "prompt": obj.get("prompt"),
                "error_data": obj.get("errorData"),
                "outputs": [
                    {**o, "content_type": o.get("contentType")} if isinstance(o, Mapping) else o
                    for o in outputs
                ],
            }
        )


@dataclass(frozen=True)
class Failure:
    """Why a run failed, as data: the bare `reason` and the node that raised it, if known.

    On the wire (an SSE `error` event's data, a realtime `infer_error_message`'s data, a
    result's `error_data`) it is ComfyUI's `execution_error` shape, the object ViewComfy's
    gateway passes on: `{"exception_message", "node_id", "node_type"}`. Plain text is read as
    a reason without a node.
    """

    reason: str
    node_id: str = ""
    node_type: str = ""

    @property
    def detail(self) -> str:
        """One line: "node 3 (ImageBlur): reason", or the reason alone."""
        return at_node(self.reason, self.node_id, self.node_type)

    def to_json(self) -> dict[str, str]:
        return {
            "exception_message": self.reason,
            "node_id": self.node_id,
            "node_type": self.node_type,
        }

    @classmethod
    def from_data(cls, data: Any) -> Failure:
        """A failure from what a server sent: the object above (or text holding it), a
        `{"message"|"error"|"detail": ...}` object, or plain text."""
        if isinstance(data, str) and data.lstrip().startswith("{"):
            try:
                data = json.loads(data)
            except ValueError:
                pass
        if isinstance(data, Mapping):
            reason = next(
                (
                    data[key]
                    for key in ("exception_message", "message", "error", "detail")
                    if isinstance(data.get(key), str) and data[key].strip()
                ),
                "",
            )
            node_id, node_type = data.get("node_id"), data.get("node_type")
            return cls(
                reason=str(reason).strip(),
                node_id=str(node_id) if isinstance(node_id, str | int) else "",
                node_type=str(node_type) if isinstance(node_type, str) else "",
            )
        return cls(reason="" if data is None else str(data).strip())


PREVIEW_TYPES = ("image/jpeg", "image/png", "image/webp")
MAX_PREVIEW_BYTES = 1 << 20  # a client drops bigger frames (ours send JPEGs of at most 512 px)


PREVIEWS_HEADER = "X-ViewComfy-Previews"  # "1" on a direct (SSE) run: send `preview` events


@dataclass(frozen=True)
class Preview:
    """One live preview frame of a running prompt (our extension of ViewComfy's protocols):
    the image a node (`node_id`, '' if unknown) shows while it works, as `content_type` bytes.

    On the wire (an SSE `preview` event's data; the `data` of a realtime
    `infer_preview_message`, whose `prompt_id` is beside it) it is
    `{"prompt_id", "node_id", "content_type", "image": <base64>}`.
    """

    prompt_id: str
    node_id: str
    content_type: str
    data: bytes = field(repr=False)

    def to_json(self) -> dict[str, str]:
        return {
            "prompt_id": self.prompt_id,
            "node_id": self.node_id,
            "content_type": self.content_type,
            "image": base64.b64encode(self.data).decode("ascii"),
        }

    @classmethod
    def from_json(
        cls, data: Any, prompt_id: str = "", max_bytes: int = MAX_PREVIEW_BYTES
    ) -> Preview | None:
        """A frame from what a server sent, or None when it is malformed, not an image type
        we show, or over `max_bytes` (dropped silently: a preview is never worth an error)."""
        if not isinstance(data, Mapping):
            return None
        image, content_type = data.get("image"), data.get("content_type")
        if not isinstance(image, str) or content_type not in PREVIEW_TYPES:
            return None
        if len(image) > (max_bytes + 2) // 3 * 4:
            return None
        try:
            decoded = base64.b64decode(image, validate=True)
        except (binascii.Error, ValueError):
            return None
        node_id, sent_id = data.get("node_id"), data.get("prompt_id")
        return cls(
            prompt_id=str(sent_id) if isinstance(sent_id, str) else prompt_id,
            node_id=str(node_id) if isinstance(node_id, str | int) else "",
            content_type=content_type,
            data=decoded,
        )
