"""Names shared by the client's modules, and the request one run is made of."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..models import Preview
from .params import Part

Protocol = Literal["sse", "realtime"]
Phase = Literal["connecting", "waiting", "running", "receiving"]
LogCallback = Callable[[str], Any]
PhaseCallback = Callable[[Phase], Any]
PreviewCallback = Callable[[Preview], Any]


@dataclass(frozen=True)
class RunRequest:
    """One run as either protocol sends it: the params split into plain `values` and file
    `files`, an optional workflow override, and who is told about log lines, phases and
    preview frames."""

    values: dict[str, Any]
    files: list[Part]
    override_workflow_api: Mapping[str, Any] | None = None
    logging_callback: LogCallback | None = None
    on_phase: PhaseCallback | None = None
    on_preview: PreviewCallback | None = None
