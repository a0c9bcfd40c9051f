"""One run from the app's point of view: call the endpoint, batch log updates, save outputs.

No Gradio here: `Runner.run` yields `RunUpdate`s, the last with the run's outcome (ui/outcome.py),
and `Runner.ended` turns a collected result into one. Every string the server gave (log lines,
prompt id, error reason and node, output file names) is scrubbed of the API keys here.
`FolderSweeper` removes run folders by age, for sessions that never end cleanly.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..api import Phase, Protocol, ViewComfyClient
from ..errors import ViewComfyError
from ..models import Failure, Preview, PromptResult
from ..outputs import save_output
from ..progress import ProgressTracker, RunProgress
from . import status as st
from .outcome import Cancelled, Done, Failed, Outcome, outcome_of_error
from .values import Params

UPDATE_INTERVAL = 0.125  # seconds: at most 8 page updates a second, however fast logs arrive
MAX_LOG_LINES = 1000
MAX_LINE_CHARS = 8000  # one endless log line must not fill the page; an error line stays whole
CANCEL_GRACE = 5.0  # seconds a cancelled run may take to tell the server to stop


@dataclass(frozen=True)
class Endpoint:
    """Where runs go. The keys stay on the server side; they never reach the page.

    `local`: the app's own embedded server on loopback; its URL is never shown to visitors.
    `gateway_url`: the realtime gateway (the local server itself when `local`).
    `workflow_api`: sent with each run in place of the deployed workflow (a curated file's
    other workflows).
    `serve_command`: for the local server, the command that starts the same engine, shown in
    the API snippets.
    """

    url: str
    client_id: str = field(default="", repr=False)
    client_secret: str = field(default="", repr=False)
    description: str = ""
    local: bool = False
    protocol: Protocol = "sse"
    gateway_url: str | None = None
    workflow_api: Mapping[str, Any] | None = field(default=None, repr=False)
    serve_command: str = ""  # when `local`: how a developer starts the same engine (snippets)

    @property
    def missing_keys(self) -> bool:
        return not self.local and not (self.client_id and self.client_secret)

    @property
    def public_url(self) -> str | None:
        """The endpoint URL a visitor may see (in the API snippets); None for the local server."""
        return None if self.local else self.url

    def scrub(self, text: str, limit: int | None = None) -> str:
        """A server-given `text` fit to show on the page: no key, then at most `limit` chars."""
        return st.scrub(text, (self.client_secret, self.client_id), limit)


@dataclass(frozen=True)
class RunUpdate:
    """How a run goes: the logs so far, and `waiting` for a worker or running (with the
    `progress` its logs tell, and the newest `preview` frame if one came since the last
    update), until the last update, which has the run's `outcome`."""

    logs: list[str]
    elapsed: float = 0.0
    waiting: bool = False
    progress: RunProgress | None = None
    outcome: Outcome | None = None
    preview: Preview | None = None


class Runner:
    """Runs workflows against one endpoint, over one shared connection pool."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self._client: ViewComfyClient | None = None

    def client(self) -> ViewComfyClient:
        if self._client is None:  # created on first use, inside the server's event loop
            e = self.endpoint
            realtime = {"protocol": "realtime", "gateway_url": e.gateway_url}
            self._client = ViewComfyClient(
                e.url,
                e.client_id,
                e.client_secret,
                **(realtime if e.protocol == "realtime" else {}),
            )
        return self._client

    async def aclose(self) -> None:
        """Close the connection pool (in the event loop that used it); a later run opens anew."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def run(self, params: Params, *, stream: bool, run_dir: Path) -> AsyncIterator[RunUpdate]:
        logs: deque[str] = deque(maxlen=MAX_LOG_LINES)
        phase: list[Phase] = ["connecting"]
        started = time.monotonic()
        scrub = self.endpoint.scrub

        arrived = asyncio.Event()
        tracker = ProgressTracker()
        frame: list[Preview | None] = [None]  # the newest preview not yet shown, only that

        def on_log(text: str) -> None:
            for line in text.splitlines() or [""]:
                logs.append(st.clean_line(scrub(line, MAX_LINE_CHARS)))
                tracker.feed(logs[-1])
            arrived.set()

        def on_preview(preview: Preview) -> None:
            frame[0] = preview
            arrived.set()

        client = self.client()
        override = self.endpoint.workflow_api
        call = (
            client.infer_with_logs(
                params.for_client(),
                on_log,
                on_phase=phase.append,
                override_workflow_api=override,
                on_preview=on_preview,
            )
            if stream
            else client.infer(
                params.for_client(), on_phase=phase.append, override_workflow_api=override
            )
        )
        task = asyncio.ensure_future(call)
        last_update = 0.0
        try:
            while not task.done():
                # Wake on a new log line (or each second, for the elapsed time), but update the
                # page at most every UPDATE_INTERVAL: thousands of lines arrive in batches.
                wake = asyncio.ensure_future(arrived.wait())
                try:
                    await asyncio.wait(
                        {task, wake}, timeout=1.0, return_when=asyncio.FIRST_COMPLETED
                    )
                finally:
                    wake.cancel()
                pause = last_update + UPDATE_INTERVAL - time.monotonic()
                if pause > 0 and not task.done():
                    await asyncio.wait({task}, timeout=pause)
                if task.done():
                    break
                arrived.clear()
                last_update = time.monotonic()
                update = self._live(phase[-1], logs, last_update - started, tracker.now)
                yield dataclasses.replace(update, preview=frame[0])
                frame[0] = None
            result = task.result()
        except ViewComfyError as exc:  # logs so far stay visible with the reason
            yield RunUpdate(list(logs), outcome=outcome_of_error(exc, scrub))
            return
        finally:
            await _stop(task)  # cancelled from the page: the client tells the server to stop
        outcome = await self.saved(result, run_dir, time.monotonic() - started)
        yield RunUpdate(list(logs), outcome=outcome)

    async def ended(self, result: PromptResult, run_dir: Path, seconds: float) -> Outcome:
        """The outcome of a result collected with `results` (ViewComfy's batch API): cancelled
        (on the server), failed (the reason and node it gives) or done."""
        if result.status == "cancelled":
            return Cancelled("server")
        if result.status != "success":
            failure = Failure.from_data(result.error_data or result.status)
            return Failed.of(failure, self.endpoint.scrub)
        return await self.saved(result, run_dir, seconds)

    async def saved(self, result: PromptResult, run_dir: Path, seconds: float) -> Outcome:
        """Done, with the result's outputs saved into `run_dir` (file work and downloads of
        linked outputs off the event loop); failed if they cannot be saved."""
        scrub = self.endpoint.scrub
        outputs = [dataclasses.replace(o, filename=scrub(o.filename)) for o in result.outputs]
        try:
            saved = await asyncio.to_thread(lambda: [save_output(o, run_dir) for o in outputs])
        except (ViewComfyError, OSError) as exc:
            return Failed(scrub(f"could not save the outputs ({exc})"))
        return Done(tuple(saved), scrub(result.prompt_id, 80), seconds)

    @staticmethod
    def _live(phase: Phase, logs: deque[str], elapsed: float, progress: RunProgress) -> RunUpdate:
        """Waiting for a worker until the first log line, then running with what the console
        told (`progress`: ProgressTracker)."""
        if phase in ("connecting", "waiting") and not logs:
            return RunUpdate(list(logs), elapsed, waiting=True)
        return RunUpdate(list(logs), elapsed, progress=progress)


async def _stop(task: asyncio.Future) -> None:
    """Cancel the run's task and let it finish its cleanup (the cancel request), bounded.

    Awaiting it, rather than dropping it, is also what keeps asyncio from reporting
    "Task was destroyed but it is pending!" when a visitor cancels."""
    if task.done():
        return
    task.cancel()
    try:
        await asyncio.wait({task}, timeout=CANCEL_GRACE)
    except asyncio.CancelledError:  # cancelled again while waiting: give up waiting, not the task
        pass
    if task.done() and not task.cancelled():
        task.exception()  # retrieved: an error while stopping is not "never retrieved"


class FolderSweeper:
    """Removes the folders in `root` untouched for `max_age` seconds: now, then on a timer.

    Sessions remove their own run folder when they end, but a raw API client (queue/join) never
    ends its session; this bounds the disk such clients can fill."""

    def __init__(self, root: Path, *, max_age: float, interval: float | None = None) -> None:
        self.root = root
        self.max_age = max_age
        self.interval = interval if interval is not None else min(max_age / 4, 300.0)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="run-folder-sweeper", daemon=True)

    def start(self) -> FolderSweeper:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join()

    def _loop(self) -> None:
        while True:
            sweep(self.root, self.max_age)
            if self._stopped.wait(self.interval):
                return


def sweep(root: Path, max_age: float) -> list[Path]:
    """Remove `root`'s sub-folders last modified more than `max_age` seconds ago."""
    cutoff = time.time() - max_age
    removed = []
    try:
        entries = list(root.iterdir())
    except OSError:  # no runs yet
        return removed
    for entry in entries:
        try:
            old = entry.is_dir() and not entry.is_symlink() and entry.stat().st_mtime < cutoff
        except OSError:  # removed meanwhile
            continue
        if old:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed
