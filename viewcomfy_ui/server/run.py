"""One execution of a prepared workflow: the engine in a worker thread, its uploads removed after."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
import shutil
import threading
import time
import traceback
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from ..models import Failure, Preview
from .engine import Engine, EngineError, NodeFailure, PreviewSink
from .nodes import OutputFile
from .preview import MAX_RATE, LatestFrame, small_jpeg
from .submit import Prepared, RequestError

logger = logging.getLogger("viewcomfy_ui.server")


class Run:
    """Start with `start(on_line)` (or iterate `follow()`); set `cancelled` to stop the engine
    between steps."""

    def __init__(
        self,
        engine: Engine,
        prepared: Prepared,
        run_dir: Path,
        prompt_id: str | None = None,
        on_finished: Callable[[], None] = lambda: None,
    ) -> None:
        self.engine, self.prepared, self.run_dir = engine, prepared, run_dir
        self.on_finished = on_finished
        self.workflow = prepared.workflow
        self.cancelled = threading.Event()
        self.prompt_id = prompt_id or str(uuid.uuid4())
        self.started = time.monotonic()

    def start(
        self, on_line: Callable[[str], None], on_frame: PreviewSink | None = None
    ) -> asyncio.Future[list[OutputFile]]:
        """Run the engine in the default executor; `on_line` (and `on_frame`, given a preview
        frame, for engines that send them) are called from its thread."""
        previews = {"preview": on_frame} if on_frame and _sends_previews(self.engine) else {}

        def execute() -> list[OutputFile]:
            if self.prepared.refusal is not None:
                raise self.prepared.refusal
            try:
                return self.engine.run(
                    self.workflow, self.prepared.inputs, on_line, self.cancelled, **previews
                )
            except BaseException as exc:
                release_frames(exc)
                raise

        self.started = time.monotonic()
        future = asyncio.get_running_loop().run_in_executor(None, execute)
        future.add_done_callback(self._finished)
        self.future = future
        return future

    async def follow(self, previews: bool = True) -> AsyncIterator[str | Preview]:
        """Start the engine and yield its console lines as they come, until it returns, and
        (with `previews`) its preview frames: only the newest, at most `MAX_RATE` a second,
        each a small JPEG (never ahead of a line that came before it, never holding one back)."""
        loop = asyncio.get_running_loop()
        lines: asyncio.Queue[str] = asyncio.Queue()
        frames, woken = LatestFrame(), asyncio.Event()

        def on_frame(frame: Preview) -> None:
            frames.put(frame)
            loop.call_soon_threadsafe(woken.set)

        future = self.start(
            lambda line: loop.call_soon_threadsafe(lines.put_nowait, line),
            on_frame if previews else None,
        )
        next_frame = 0.0
        while True:
            while not lines.empty():
                yield lines.get_nowait()
            if future.done():
                return  # a frame still waiting is dropped: the outcome follows
            woken.clear()
            wait = next_frame - loop.time()
            taken = frames.take() if wait <= 0 else None
            if taken is not None:
                frame = await asyncio.to_thread(small_jpeg, taken)
                if frame is not None:
                    next_frame = loop.time() + 1 / MAX_RATE
                    yield dataclasses.replace(frame, prompt_id=self.prompt_id)
                continue
            getter = asyncio.ensure_future(lines.get())
            waker = asyncio.ensure_future(woken.wait())
            await asyncio.wait(
                {getter, waker, future},
                timeout=wait if frames.pending else None,
                return_when=asyncio.FIRST_COMPLETED,
            )
            waker.cancel()
            if getter.done():
                yield getter.result()
            else:
                getter.cancel()

    def outcome(self) -> list[OutputFile] | BaseException:
        """The outputs or the exception of a finished run, without raising it: raising would add
        the caller's frame to its traceback, a cycle (frame -> future -> exception -> frame) that
        only the GC breaks."""
        return self.future.exception() or self.future.result()

    def elapsed(self) -> float:
        return round(time.monotonic() - self.started, 3)

    def _finished(self, future: asyncio.Future[list[OutputFile]]) -> None:
        """Runs when the engine returns, even after its client left: clean up the run's files."""
        shutil.rmtree(self.run_dir, ignore_errors=True)
        self.on_finished()
        if not future.cancelled():
            future.exception()  # retrieved here, so an abandoned failure is not reported twice


def _sends_previews(engine: Engine) -> bool:
    """Whether the engine's `run` takes a `preview` sink (engines made before previews, and
    subclasses that override `run` without it, do not)."""
    return "preview" in inspect.signature(engine.run).parameters


class RunSlots:
    """At most `limit` runs in progress (queued for the engine included), across both protocols:
    one more is refused (503) before its body is read."""

    def __init__(self, limit: int) -> None:
        self.limit, self.active = limit, 0

    def take(self) -> Callable[[], None]:
        """Take a slot; returns its release function (safe to call more than once)."""
        if self.active >= self.limit:
            raise RequestError(503, f"{self.limit} runs are in progress; try again in a moment")
        self.active += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released, self.active = True, self.active - 1

        return release


def failure(run: Run, error: BaseException) -> Failure:
    """What a client is told of a failed run; an engine bug is logged and named by its type only."""
    if isinstance(error, NodeFailure):
        return Failure(error.reason, node_id=error.node_id, node_type=error.node_type)
    if isinstance(error, EngineError):
        return Failure(str(error))
    logger.error("run %s failed", run.prompt_id, exc_info=error)
    return Failure(f"internal error in the engine: {type(error).__name__}")


def release_frames(exc: BaseException) -> None:
    """Drop the local variables (images) of the finished frames in `exc`'s tracebacks and
    those of its causes, keeping file and line for debugging: a failed run frees its memory at
    once, not when the cyclic GC next runs."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        error = stack.pop()
        if error is None or id(error) in seen:
            continue
        seen.add(id(error))
        traceback.clear_frames(error.__traceback__)
        stack += [error.__cause__, error.__context__]
