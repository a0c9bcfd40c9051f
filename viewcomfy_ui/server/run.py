"""One execution of a prepared workflow: the engine in a worker thread, its uploads removed after."""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from .engine import Engine
from .nodes import OutputFile
from .submit import Prepared


class Run:
    """Start with `start(on_line)`; set `cancelled` to stop the engine between steps."""

    def __init__(
        self, engine: Engine, prepared: Prepared, run_dir: Path, prompt_id: str | None = None
    ) -> None:
        self.engine, self.prepared, self.run_dir = engine, prepared, run_dir
        self.workflow = prepared.workflow
        self.cancelled = threading.Event()
        self.prompt_id = prompt_id or str(uuid.uuid4())
        self.started = time.monotonic()

    def start(self, on_line: Callable[[str], None]) -> asyncio.Future[list[OutputFile]]:
        """Run the engine in the default executor; `on_line` is called from its thread."""

        def execute() -> list[OutputFile]:
            if self.prepared.refusal is not None:
                raise self.prepared.refusal
            return self.engine.run(self.workflow, self.prepared.inputs, on_line, self.cancelled)

        self.started = time.monotonic()
        future = asyncio.get_running_loop().run_in_executor(None, execute)
        future.add_done_callback(self._finished)
        return future

    def elapsed(self) -> float:
        return round(time.monotonic() - self.started, 3)

    def _finished(self, future: asyncio.Future[list[OutputFile]]) -> None:
        """Runs when the engine returns, even after its client left: clean up the run's files."""
        shutil.rmtree(self.run_dir, ignore_errors=True)
        if not future.cancelled():
            future.exception()  # retrieved here, so an abandoned failure is not reported twice
