"""The prompt result a ViewComfy endpoint returns, field for field as its reference client."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import MalformedResultError


@dataclass
class FileOutput:
    """One output file. `data` is base64 text (as on the wire); `content()` decodes it.

    `filepath` is set instead of `data` by newer deployments (an expiring https URL); the client
    downloads it and fills `data`, so callers see the same shape either way.
    """

    filename: str
    content_type: str
    data: str
    size: int
    filepath: str | None = None

    def content(self) -> bytes:
        """The file's bytes. Raises MalformedResultError if `data` is not valid base64."""
        try:
            return base64.b64decode(self.data, validate=True)
        except (binascii.Error, ValueError):
            raise MalformedResultError(
                f"output {self.filename!r} is not valid base64; the server sent a broken result"
            ) from None

    @classmethod
    def from_json(cls, obj: Any) -> FileOutput:
        if not isinstance(obj, Mapping):
            raise MalformedResultError("an output in the result is not a JSON object")
        data, filepath = obj.get("data"), obj.get("filepath")
        if not isinstance(data, str) and not isinstance(filepath, str):
            raise MalformedResultError(
                f"output {str(obj.get('filename'))[:80]!r} has neither 'data' nor 'filepath'"
            )
        size = obj.get("size")
        return cls(
            filename=str(obj.get("filename") or "output"),
            content_type=str(obj.get("content_type") or "application/octet-stream"),
            data=data if isinstance(data, str) else "",
            size=size if isinstance(size, int) and not isinstance(size, bool) else 0,
            filepath=filepath if isinstance(filepath, str) else None,
        )


@dataclass
class PromptResult:
    """A finished run: its id, status, timing, the prompt that ran, and its output files."""

    prompt_id: str
    status: str
    completed: bool
    execution_time_seconds: float
    prompt: dict[str, Any]
    outputs: list[FileOutput] = field(default_factory=list)

    @classmethod
    def from_json(cls, obj: Any) -> PromptResult:
        """Validate a decoded `prompt_result`; raises MalformedResultError on a wrong shape."""
        if not isinstance(obj, Mapping):
            raise MalformedResultError("the prompt result is not a JSON object")
        outputs = obj.get("outputs") or []
        if not isinstance(outputs, list):
            raise MalformedResultError("the prompt result's 'outputs' is not a list")
        seconds = obj.get("execution_time_seconds")
        prompt = obj.get("prompt")
        return cls(
            prompt_id=str(obj.get("prompt_id") or ""),
            status=str(obj.get("status") or ""),
            completed=bool(obj.get("completed", True)),
            execution_time_seconds=float(seconds) if _is_number(seconds) else 0.0,
            prompt=dict(prompt) if isinstance(prompt, Mapping) else {},
            outputs=[FileOutput.from_json(o) for o in outputs],
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
