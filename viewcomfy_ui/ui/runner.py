"""One run from the app's point of view: call the endpoint, batch log updates, save outputs.

No Gradio here: `run_workflow` yields `RunUpdate`s that the page renders.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from ..api import Phase, ViewComfyClient
from ..errors import ViewComfyError
from ..outputs import SavedOutput, save_output
from ..progress import parse_progress
from . import status as st
from .values import Params

UPDATE_INTERVAL = 0.1  # seconds: at most ~10 page updates a second, however fast logs arrive
MAX_LOG_LINES = 1000


@dataclass(frozen=True)
class Endpoint:
    """Where runs go. The keys stay on the server side; they never reach the page."""

    url: str
    client_id: str = field(default="", repr=False)
    client_secret: str = field(default="", repr=False)
    description: str = ""
    local: bool = False

    @property
    def missing_keys(self) -> bool:
        return not self.local and not (self.client_id and self.client_secret)


@dataclass
class RunUpdate:
    status: st.Status
    logs: list[str]
    outputs: list[SavedOutput] | None = None  # set once, when the run succeeded
    finished: bool = False


class Runner:
    """Runs workflows against one endpoint, over one shared connection pool."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self._client: ViewComfyClient | None = None

    def client(self) -> ViewComfyClient:
        if self._client is None:  # created on first use, inside the server's event loop
            self._client = ViewComfyClient(
                self.endpoint.url, self.endpoint.client_id, self.endpoint.client_secret
            )
        return self._client

    async def run(self, params: Params, *, stream: bool, run_dir: Path) -> AsyncIterator[RunUpdate]:
        logs: list[str] = []
        phase: list[Phase] = ["connecting"]
        started = time.monotonic()

        arrived = asyncio.Event()

        def on_log(text: str) -> None:
            for line in text.splitlines() or [""]:
                logs.append(st.clean_line(line))
            arrived.set()

        client = self.client()
        call = (
            client.infer_with_logs(params.for_client(), on_log, on_phase=phase.append)
            if stream
            else client.infer(params.for_client(), on_phase=phase.append)
        )
        task = asyncio.ensure_future(call)
        last_update = 0.0
        try:
            while not task.done():
                # Wake on a new log line (or each second, for the elapsed time), but update the
                # page at most every UPDATE_INTERVAL: thousands of lines arrive in batches.
                wake = asyncio.ensure_future(arrived.wait())
                await asyncio.wait({task, wake}, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
                wake.cancel()
                pause = last_update + UPDATE_INTERVAL - time.monotonic()
                if pause > 0 and not task.done():
                    await asyncio.wait({task}, timeout=pause)
                if task.done():
                    break
                arrived.clear()
                last_update = time.monotonic()
                status = self._live_status(phase[-1], logs, last_update - started)
                yield RunUpdate(status, logs[-MAX_LOG_LINES:])
            result = task.result()
        except ViewComfyError as exc:  # logs so far stay visible with the reason
            yield RunUpdate(st.failed(str(exc)), logs[-MAX_LOG_LINES:], finished=True)
            return
        finally:
            task.cancel()  # on cancel from the page: drop the request, so the server stops
        try:
            saved = [save_output(output, run_dir) for output in result.outputs]
        except (ViewComfyError, OSError) as exc:
            yield RunUpdate(
                st.failed(f"could not save the outputs ({exc})"),
                logs[-MAX_LOG_LINES:],
                finished=True,
            )
            return
        seconds = time.monotonic() - started
        done = st.done(seconds, result.prompt_id, params.seeds, len(saved))
        yield RunUpdate(done, logs[-MAX_LOG_LINES:], outputs=saved, finished=True)

    @staticmethod
    def _live_status(phase: Phase, logs: list[str], elapsed: float) -> st.Status:
        if phase in ("connecting", "waiting") and not logs:
            return st.waiting(elapsed)
        progress = next((p for p in map(parse_progress, reversed(logs[-20:])) if p), None)
        return st.running(progress, elapsed)
