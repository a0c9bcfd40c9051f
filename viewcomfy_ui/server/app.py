"""A local, open implementation of the ViewComfy API in front of an engine: the direct protocol
(``POST /``, JSON or Server-Sent Events) and the realtime one (`realtime`), at one origin."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import socketio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.datastructures import FormData

from ..models import PREVIEWS_HEADER, FileOutput, Preview, PromptResult
from .config import DEFAULT_MAX_UPLOAD, ServerConfig
from .engine import RunCancelled
from .http import ConnectionLimits
from .nodes import OutputFile
from .realtime import Realtime, lifespan
from .run import Run, RunSlots, failure
from .submit import RequestError, receive, text_field

__all__ = ["DEFAULT_MAX_UPLOAD", "ServerConfig", "create_app"]
KEEPALIVE_SECONDS = 15.0
logger = logging.getLogger("viewcomfy_ui.server")


def create_app(config: ServerConfig, limits: ConnectionLimits | None = None) -> socketio.ASGIApp:
    """The ASGI app: socket.io at ``/socket.io/``, everything else to the FastAPI routes.
    `limits` are those the app is served with (sockets without keys get a share of them)."""
    slots = RunSlots(config.max_active_runs)
    realtime = Realtime(config, slots, limits or ConnectionLimits())
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
        taken = await receive(request, config, slots.take, _wants_logs)
        run = Run(config.engine, taken.prepared, taken.run_dir, on_finished=taken.release)
        if taken.fields:
            return EventSourceResponse(
                _events(run, _wants_previews(request)), status_code=201, ping=KEEPALIVE_SECONDS, sep="\n",
                headers={"Cache-Control": "no-store"},
            )  # fmt: skip
        return await _json_reply(run, request)

    realtime.add_routes(app)
    return socketio.ASGIApp(realtime.sio, other_asgi_app=app, socketio_path="socket.io")


def _wants_logs(form: FormData) -> bool:
    """`logs=true`: stream the run as Server-Sent Events; otherwise one JSON reply."""
    return str(text_field(form, "logs") or "false").strip().lower() == "true"


def _wants_previews(request: Request) -> bool:
    """Previews go only to a client that asks (`X-ViewComfy-Previews: 1`, as our client does
    when given `on_preview`): ViewComfy's own SSE client prints every event it does not know."""
    return request.headers.get(PREVIEWS_HEADER, "").strip() == "1"


def _result(run: Run, outputs: list[OutputFile]) -> dict[str, Any]:
    files = [FileOutput(o.filename, o.content_type, size=len(o.data), body=o.data) for o in outputs]
    result = PromptResult(
        prompt_id=run.prompt_id,
        status="success",
        completed=True,
        execution_time_seconds=run.elapsed(),
        prompt=run.workflow,
        outputs=files,
    )
    return result.to_json()


async def _events(run: Run, previews: bool) -> AsyncIterator[ServerSentEvent]:
    """The run as SSE events (sse-starlette frames them: one ``data:`` line per line of text);
    with `previews`, its frames as `preview` events (our extension: docs/extensions.md)."""
    try:
        async for item in run.follow(previews):
            if isinstance(item, Preview):
                yield ServerSentEvent(json.dumps(item.to_json()), event="preview")
            else:
                yield ServerSentEvent(item, event="log_message")
        outcome = run.outcome()
        if isinstance(outcome, BaseException):
            yield ServerSentEvent(json.dumps(failure(run, outcome).to_json()), event="error")
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
            failed = failure(run, outcome)
            return JSONResponse(
                {"detail": failed.detail, "error_data": failed.to_json()}, status_code=500
            )
        return JSONResponse(_result(run, outcome), status_code=201)
    except RunCancelled:
        return JSONResponse({"detail": "cancelled"}, status_code=499)
    finally:
        run.cancelled.set()
