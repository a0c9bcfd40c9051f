"""A local, open implementation of the ViewComfy API in front of an engine: the direct protocol
(``POST /``, JSON or Server-Sent Events) and the realtime one (`realtime`), at one origin."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import shutil
from collections.abc import AsyncIterator
from typing import Any

import socketio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sse_starlette import EventSourceResponse, ServerSentEvent

from .config import DEFAULT_MAX_UPLOAD, ServerConfig
from .engine import RunCancelled
from .nodes import OutputFile
from .realtime import Realtime, lifespan
from .run import Run, RunSlots, failure
from .submit import RequestError, check_keys, prepare, read_form, text_field

__all__ = ["DEFAULT_MAX_UPLOAD", "ServerConfig", "create_app"]
KEEPALIVE_SECONDS = 15.0
logger = logging.getLogger("viewcomfy_ui.server")


def create_app(config: ServerConfig) -> socketio.ASGIApp:
    """The ASGI app: socket.io at ``/socket.io/``, everything else to the FastAPI routes."""
    slots = RunSlots(config.max_active_runs)
    realtime = Realtime(config, slots)
    app = FastAPI(
        title="viewcomfy-ui local API", docs_url=None, redoc_url=None, openapi_url=None,
        lifespan=lambda _: lifespan(realtime),
    )  # fmt: skip

    @app.exception_handler(RequestError)
    async def refused(request: Request, exc: RequestError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "engine": config.engine.name}

    @app.post("/")
    async def infer(request: Request) -> Any:
        check_keys(request, config)
        release = slots.take()
        try:
            form = await read_form(request, config)
            run_dir = config.new_folder("run")
            try:
                stream = str(text_field(form, "logs") or "false").strip().lower() == "true"
                prepared = prepare(form, config, run_dir)
            except BaseException:
                shutil.rmtree(run_dir, ignore_errors=True)
                raise
            finally:
                await form.close()
        except BaseException:
            release()
            raise
        run = Run(config.engine, prepared, run_dir, on_finished=release)
        if stream:
            return EventSourceResponse(
                _events(run), status_code=201, ping=KEEPALIVE_SECONDS, sep="\n",
                headers={"Cache-Control": "no-store"},
            )  # fmt: skip
        return await _json_reply(run, request)

    realtime.add_routes(app)
    return socketio.ASGIApp(realtime.sio, other_asgi_app=app, socketio_path="socket.io")


def _result(run: Run, outputs: list[OutputFile]) -> dict[str, Any]:
    return {
        "prompt_id": run.prompt_id,
        "status": "success",
        "completed": True,
        "execution_time_seconds": run.elapsed(),
        "prompt": run.workflow,
        "outputs": [
            {
                "filename": o.filename,
                "content_type": o.content_type,
                "data": base64.b64encode(o.data).decode("ascii"),
                "size": len(o.data),
            }
            for o in outputs
        ],
    }


async def _events(run: Run) -> AsyncIterator[ServerSentEvent]:
    """The run as SSE events (sse-starlette frames them: one ``data:`` line per line of text)."""
    try:
        async for line in run.follow():
            yield ServerSentEvent(line, event="log_message")
        outcome = run.outcome()
        if isinstance(outcome, BaseException):
            yield ServerSentEvent(failure(run, outcome), event="error")
        else:
            yield ServerSentEvent(json.dumps(_result(run, outcome)), event="prompt_result")
    finally:
        run.cancelled.set()


async def _json_reply(run: Run, request: Request) -> JSONResponse:
    future = run.start(lambda line: None)
    try:
        while not future.done():
            await asyncio.wait({future}, timeout=0.25)
            if not future.done() and await request.is_disconnected():
                run.cancelled.set()
                raise RunCancelled("the client disconnected")
        outcome = run.outcome()
        if isinstance(outcome, BaseException):
            return JSONResponse({"detail": failure(run, outcome)}, status_code=500)
        return JSONResponse(_result(run, outcome), status_code=201)
    except RunCancelled:
        return JSONResponse({"detail": "cancelled"}, status_code=499)
    finally:
        run.cancelled.set()
