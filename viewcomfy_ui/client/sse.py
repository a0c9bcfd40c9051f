"""The direct protocol (viewcomfy-api.md §2-§5): POST the endpoint, one JSON reply or
Server-Sent Events (`log_message`, `error`, `prompt_result`) until the run ends; our own
server's `preview` events (docs/extensions.md) go to `on_preview`, other events are ignored."""

from __future__ import annotations

import json
from collections import deque

import httpx

from ..errors import IncompleteStreamError, MalformedResultError
from ..models import PREVIEWS_HEADER, Preview, PromptResult
from .events import Event, EventParser
from .http import MAX_LOG_LINES, Session, call, reason
from .params import FileParts
from .result import parse_result
from .types import LogCallback, PhaseCallback, PreviewCallback, RunRequest

MAX_PREVIEW_EVENT = 2 << 20  # characters: a bigger `preview` event is skipped undecoded


async def run(session: Session, api_url: str, request: RunRequest) -> PromptResult:
    """One run: returns its result, or raises the typed error."""
    logging_callback, on_phase = request.logging_callback, request.on_phase
    data = {"logs": "true" if logging_callback else "false", "params": json.dumps(request.values)}
    if request.override_workflow_api:
        data["workflow_api"] = json.dumps(request.override_workflow_api)
    headers = session.key_headers
    if logging_callback:
        headers["Accept"] = "text/event-stream"
        if request.on_preview is not None:
            headers[PREVIEWS_HEADER] = "1"
    with FileParts(request.files) as parts:

        def build() -> httpx.Request:
            # Always multipart/form-data, as the protocol says: text fields as parts without
            # a filename.
            fields = [(name, (None, value)) for name, value in data.items()]
            return session.http.build_request(
                "POST", api_url, files=fields + parts.parts, headers=headers
            )

        response = await session.send(build, on_attempt=lambda: call(on_phase, "connecting"))
    try:
        await call(on_phase, "waiting")
        if "text/event-stream" not in response.headers.get("content-type", ""):
            pieces = await session.read_pieces(response, "the prompt result")
            await call(on_phase, "receiving")
            return parse_result(pieces)
        return await _read_events(session, response, logging_callback, on_phase, request.on_preview)
    finally:
        await response.aclose()


async def _read_events(
    session: Session,
    response: httpx.Response,
    logging_callback: LogCallback | None,
    on_phase: PhaseCallback | None,
    on_preview: PreviewCallback | None = None,
) -> PromptResult:
    logs: deque[str] = deque(maxlen=MAX_LOG_LINES)
    seen = 0
    parser = EventParser(session.max_result_bytes)

    async def handle(event: Event) -> PromptResult | None:
        nonlocal seen
        if event.event == "log_message":
            if not seen:
                await call(on_phase, "running")
            seen += 1
            logs.append(event.data)
            await call(logging_callback, event.data)
        elif event.event == "preview" and on_preview is not None:
            if (frame := _preview(event)) is not None:
                await call(on_preview, frame)
        elif event.event == "error":
            raise session.failure(event.data, logs)
        elif event.event == "prompt_result":
            await call(on_phase, "receiving")
            return parse_result(event.pieces)  # decodes and drops the pieces as it goes
        return None

    try:
        async for chunk in response.aiter_bytes():
            for event in parser.feed(chunk):
                if (result := await handle(event)) is not None:
                    return result
        for event in parser.close():
            if (result := await handle(event)) is not None:
                return result
    except httpx.TransportError as exc:
        raise IncompleteStreamError(
            f"the connection dropped before the result arrived ({reason(exc)}); "
            f"{seen} log lines were received",
            logs=list(logs),
        ) from exc
    except httpx.DecodingError as exc:
        raise MalformedResultError(
            "the event stream could not be decoded (bad compression); the server sent a "
            "broken reply"
        ) from exc
    raise IncompleteStreamError(
        "the event stream ended without a result (the worker or a proxy closed it); "
        f"{seen} log lines were received",
        logs=list(logs),
    )


def _preview(event: Event) -> Preview | None:
    """A `preview` event's frame; None (skipped) when it is malformed or too big."""
    if sum(len(p) for p in event.pieces if p is not None) > MAX_PREVIEW_EVENT:
        return None
    try:
        return Preview.from_json(json.loads(event.data))
    except ValueError:
        return None
