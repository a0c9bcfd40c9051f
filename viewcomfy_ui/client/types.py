"""Names shared by the client's modules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

Protocol = Literal["sse", "realtime"]
Phase = Literal["connecting", "waiting", "running", "receiving"]
LogCallback = Callable[[str], Any]
PhaseCallback = Callable[[Phase], Any]
