"""ViewComfy's realtime gateway (viewcomfy-api.md §6): socket.io events, submit / results /
cancel over HTTP.

A run connects a socket.io listener (websocket, `auth` = the keys), submits with a fresh
`prompt_id` and the listener's `sid`, and then waits on a queue the event handlers fill: every
log line reaches the callback as it arrives, in order, with no polling. Events for other
prompts on the same `sid` are ignored. Cancelling the task that runs it sends the cancel request
for its prompt first (the GPU must stop, not just the listener). A socket that drops mid-run
connects again and re-subscribes to its prompt (`POST /api/workflow/infer/subscribe/{sid}`,
as ViewComfy's app does after a reconnect), then asks `results` whether it ended meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import urllib.parse
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
import socketio

from ..errors import (
    AuthenticationError,
    CancelledBy,
    IncompleteStreamError,
    MalformedResultError,
    RunCancelledError,
    TransportError,
    ViewComfyError,
)
from ..models import Preview, PromptResult
from .http import DEFAULT_CONNECT_TIMEOUT, MAX_LOG_LINES, Session, backoff, call, one_line, reason
from .params import FileParts
from .types import LogCallback, PhaseCallback, PreviewCallback, RunRequest

DEFAULT_GATEWAY = "https://api.viewcomfy.com"
INFER_PATH = "/api/workflow/infer"
CANCEL_GRACE = 10.0  # seconds a cancelled run waits for its cancel request to be sent
REPLY_GRACE = 1.0  # and then for the gateway's answer to it
MAX_RESUMES = 5  # reconnects of one run's socket before it counts as dropped
SILENCE = 30.0  # seconds without an event before a run's result is asked for
EVENTS = (
    "infer_log_message",
    "infer_executed_message",
    "infer_error_message",
    "infer_canceled_message",
    "infer_result_message",
)
PREVIEW_EVENT = "infer_preview_message"  # our server's extension (docs/extensions.md)


@dataclass(frozen=True)
class Gateway:
    """Where runs go: the gateway's `url`, the deployment (`api_url`) it runs them on, and
    how long making the socket connection may take."""

    url: str = DEFAULT_GATEWAY
    api_url: str = ""
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT

    def endpoint(self, path: str) -> str:
        return self.url.rstrip("/") + path


class Listener:
    """One socket.io connection to the gateway; the events of one prompt, queued in order."""

    def __init__(self, session: Session, gateway: Gateway, prompt_id: str) -> None:
        self._session = session
        self._gateway = gateway
        self.prompt_id = prompt_id
        self._events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._refusal = ""
        self._resumes = 0  # reconnects so far
        self._preview: Preview | None = None  # the newest frame not yet handed on
        # Our own aiohttp session (create the Listener inside the event loop), so it is closed
        # whatever happens to the connection.
        self._http = aiohttp.ClientSession()
        self._sio = socketio.AsyncClient(
            reconnection=False, handle_sigint=False, http_session=self._http
        )
        for name in EVENTS:
            self._sio.on(name, self._handler(name))
        self._sio.on(PREVIEW_EVENT, self._on_preview)
        self._sio.on("disconnect", self._on_disconnect)
        self._sio.on("connect_error", self._on_connect_error)

    @property
    def sid(self) -> str:
        return str(self._sio.get_sid() or "")

    def _handler(self, name: str) -> Any:
        async def handle(payload: Any = None, *_: Any) -> None:
            if isinstance(payload, Mapping) and payload.get("prompt_id") == self.prompt_id:
                self._events.put_nowait((name, payload))

        return handle

    async def _on_preview(self, payload: Any = None, *_: Any) -> None:
        """Keep only the newest frame; the queue holds at most one marker for it."""
        if not isinstance(payload, Mapping) or payload.get("prompt_id") != self.prompt_id:
            return
        frame = Preview.from_json(payload.get("data"), self.prompt_id)
        if frame is None:
            return
        if self._preview is None:
            self._events.put_nowait((PREVIEW_EVENT, None))
        self._preview = frame

    async def _on_disconnect(self, why: Any = None) -> None:
        self._events.put_nowait(("disconnect", why))

    async def _on_connect_error(self, data: Any = None) -> None:
        message = data.get("message") if isinstance(data, Mapping) else data
        self._refusal = self._session.scrub(one_line(str(message or "")))

    async def connect(self) -> None:
        """Connect, retrying only transport failures; a refusal is an AuthenticationError."""
        where = self._session.home
        for attempt in range(self._session.max_retries + 1):
            try:
                await self._sio.connect(
                    self._gateway.url,
                    auth={
                        "client_id": self._session.client_id,
                        "client_secret": self._session.client_secret,
                    },
                    transports=["websocket"],
                    wait_timeout=self._gateway.connect_timeout,
                )
                return
            except socketio.exceptions.ConnectionError as exc:
                status = _handshake_status(exc)
                refused = bool(self._sio.failed_namespaces)  # the server said no (auth)
                if refused or status in (401, 403):
                    detail = f": {self._refusal}" if refused and self._refusal else ""
                    raise AuthenticationError(
                        f"the gateway {where} refused the connection"
                        f"{f' (HTTP {status})' if status else ''}{detail}; check "
                        "VIEWCOMFY_CLIENT_ID and VIEWCOMFY_CLIENT_SECRET",
                        status_code=status or 401,
                        detail=self._refusal,
                    ) from exc
                if attempt < self._session.max_retries:  # no run can have started
                    await asyncio.sleep(backoff(attempt))
                    continue
                raise TransportError(
                    f"cannot connect to the gateway {where} ({reason(exc)}); check the gateway "
                    "URL and your network"
                ) from exc

    async def close(self) -> None:
        """Disconnect, also a connection cancelled half-way (engine.io up, not socket.io)."""
        try:
            await self._sio.shutdown()
            if self._sio.eio.state == "connected":
                await self._sio.eio.disconnect()
        finally:
            await self._http.close()

    async def result(
        self,
        logging_callback: LogCallback | None,
        on_phase: PhaseCallback | None,
        on_preview: PreviewCallback | None = None,
    ) -> PromptResult:
        """Wait for this prompt's result, handing each log line to the callback on arrival
        (and the newest preview frame to `on_preview`). After `SILENCE` seconds without an
        event, `results` is asked once whether it ended (a gateway whose subscribe moves every
        run of the keys may have sent its events to another of this client's sockets)."""
        logs: deque[str] = deque(maxlen=MAX_LOG_LINES)
        seen = 0
        running = False
        while True:
            try:
                name, payload = await asyncio.wait_for(self._events.get(), SILENCE)
            except TimeoutError:
                ended = await self._collected()
                if ended is not None:
                    return self._ended(ended, logs)
                continue
            data = payload.get("data") if isinstance(payload, Mapping) else payload
            if name in ("infer_log_message", "infer_executed_message") and not running:
                running = True
                await call(on_phase, "running")
            if name == PREVIEW_EVENT:
                frame, self._preview = self._preview, None
                if frame is not None and on_preview is not None:
                    await call(on_preview, frame)
            elif name == "infer_log_message":
                line = data if isinstance(data, str) else json.dumps(data)
                seen += 1
                logs.append(line)
                await call(logging_callback, line)
            elif name == "infer_error_message":
                raise self._session.failure(data, logs)
            elif name == "infer_canceled_message":
                by: CancelledBy = (
                    "client" if self.prompt_id in self._session.cancelled else "server"
                )
                raise RunCancelledError(
                    f"the run {self.prompt_id} was cancelled"
                    f"{'' if by == 'client' else ' on the server'}",
                    by=by,
                    logs=list(logs),
                )
            elif name == "infer_result_message":
                await call(on_phase, "receiving")
                return PromptResult.from_json(payload)
            elif name == "disconnect" and not self._sio.connected:  # not one already resumed
                self._resumes += 1
                ended = await self._resume() if self._resumes <= MAX_RESUMES else None
                if ended is None:
                    raise IncompleteStreamError(
                        "the connection to the gateway dropped before the result arrived; "
                        f"{seen} log lines were received (the run may still finish: collect it "
                        f"with results([{self.prompt_id!r}]))",
                        logs=list(logs),
                    )
                if ended is not False:  # after the events still on their way, if any
                    asyncio.get_running_loop().call_later(
                        REPLY_GRACE, self._events.put_nowait, ("collected", ended)
                    )
            elif name == "collected":
                return self._ended(payload, logs)

    async def _resume(self) -> PromptResult | bool | None:
        """After the socket dropped: connect again and move this prompt's events to the new
        socket. Returns its result if it ended meanwhile, False if it goes on, None if it
        cannot be followed (the gateway is gone, or cannot re-subscribe)."""
        try:
            await asyncio.wait_for(self._closed(), CANCEL_GRACE)
        except TimeoutError:
            return None
        try:
            await self.connect()
            await subscribe(self._session, self._gateway, self.sid, [self.prompt_id])
        except ViewComfyError:
            return None
        return await self._collected() or False

    async def _collected(self) -> PromptResult | None:
        """This prompt's result if `results` says it ended (None if not, or on no answer)."""
        try:
            found = await results(self._session, self._gateway, [self.prompt_id])
        except ViewComfyError:
            return None
        return next((r for r in found if r.prompt_id == self.prompt_id and r.completed), None)

    async def _closed(self) -> None:
        """Until the dropped connection is closed on this side too (engine.io sets its state
        just after its read loop ends), so it can connect again."""
        await self._sio.eio.wait()
        while self._sio.eio.state != "disconnected":
            await asyncio.sleep(0.01)

    def _ended(self, result: PromptResult, logs: deque[str]) -> PromptResult:
        """A result collected after a reconnect: returned when done, else its error raised."""
        if result.status == "success":
            return result
        if result.status == "cancelled":
            by: CancelledBy = "client" if self.prompt_id in self._session.cancelled else "server"
            raise RunCancelledError(
                f"the run {self.prompt_id} was cancelled", by=by, logs=list(logs)
            )
        raise self._session.failure(result.error_data or result.status, logs)


def _handshake_status(exc: BaseException) -> int | None:
    """The HTTP status of a refused websocket handshake, from the exception chain."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, aiohttp.WSServerHandshakeError):
            return seen.status
        seen = seen.__cause__ or seen.__context__
    return None


async def run(session: Session, gateway: Gateway, request: RunRequest) -> PromptResult:
    """One run over the socket: returns its result, or raises the typed error."""
    listener = Listener(session, gateway, str(uuid.uuid4()))
    submitted = False
    try:
        await call(request.on_phase, "connecting")
        await listener.connect()
        submitted = True  # from here on a run may exist: stop it if we are interrupted
        await submit(session, gateway, request, sid=listener.sid, prompt_id=listener.prompt_id)
        await call(request.on_phase, "waiting")
        return await listener.result(request.logging_callback, request.on_phase, request.on_preview)
    except (asyncio.CancelledError, Exception) as exc:
        if submitted and not isinstance(exc, ViewComfyError):
            await _cancel_within_grace(session, gateway, listener.prompt_id)
        raise
    finally:
        await listener.close()


async def _cancel_within_grace(session: Session, gateway: Gateway, prompt_id: str) -> None:
    """Send the cancel request, shielded from a second cancellation: for at most CANCEL_GRACE
    until it is sent, then at most REPLY_GRACE for the gateway's answer (the gateway acts on
    a request it has, and Ctrl-C should not wait on a slow reply)."""
    sent = asyncio.Event()
    task = asyncio.ensure_future(cancel(session, gateway, prompt_id, on_sent=sent.set))
    task.add_done_callback(lambda t: t.cancelled() or t.exception())
    waiter = asyncio.ensure_future(sent.wait())
    try:
        await asyncio.wait({task, waiter}, timeout=CANCEL_GRACE, return_when="FIRST_COMPLETED")
        if sent.is_set() and not task.done():
            await asyncio.wait({task}, timeout=REPLY_GRACE)
    finally:
        waiter.cancel()
        task.cancel()


async def submit(
    session: Session,
    gateway: Gateway,
    request: RunRequest,
    *,
    sid: str | None = None,
    prompt_id: str | None = None,
) -> str:
    """POST the run; returns its prompt id. Without `sid` it is fire-and-forget."""
    prompt_id = prompt_id or str(uuid.uuid4())
    override = request.override_workflow_api
    fields = {
        "prompt_id": prompt_id,
        "view_comfy_api_url": gateway.api_url,
        "params": json.dumps(request.values),
        "workflow_api": json.dumps(override) if override else "",
    }
    if sid:
        fields["sid"] = sid
    url = gateway.endpoint(INFER_PATH)
    with FileParts(request.files) as parts:

        def build() -> httpx.Request:
            if not request.files:  # as their client: urlencoded without files
                return session.http.build_request(
                    "POST", url, data=fields, headers=session.key_headers
                )
            text = [(name, (None, value)) for name, value in fields.items()]
            return session.http.build_request(
                "POST", url, files=text + parts.parts, headers=session.key_headers
            )

        response = await session.send(build)
    try:
        body = await session.read_json(response, "the gateway's reply to the submit")
    finally:
        await response.aclose()
    data = body.get("data") if isinstance(body, Mapping) else None
    given = data.get("prompt_id") if isinstance(data, Mapping) else None
    return str(given or prompt_id)


async def cancel(
    session: Session,
    gateway: Gateway,
    prompt_id: str,
    *,
    on_sent: Callable[[], None] | None = None,
) -> None:
    """Ask the gateway to stop the run `prompt_id`; `on_sent` is called once the request is
    sent in full."""
    session.cancelled.append(prompt_id)
    payload = {"prompt_id": prompt_id, "view_comfy_api_url": gateway.api_url}
    url = gateway.endpoint(INFER_PATH + "/cancel")

    async def trace(event: str, _: Any) -> None:
        if on_sent and event.endswith(".send_request_body.complete"):
            on_sent()

    response = await session.send(
        lambda: session.http.build_request(
            "POST", url, json=payload, headers=session.key_headers, extensions={"trace": trace}
        )
    )
    await response.aclose()


async def subscribe(session: Session, gateway: Gateway, sid: str, prompt_ids: list[str]) -> None:
    """Send the events of the runs `prompt_ids` (started with these keys) to the socket `sid`
    from now on: `POST /api/workflow/infer/subscribe/{sid}`, the keys' headers, JSON
    `{"prompt_ids": [...]}` (ViewComfy's app sends no body: every running run of the keys)."""
    url = gateway.endpoint(f"{INFER_PATH}/subscribe/{urllib.parse.quote(sid, safe='')}")
    response = await session.send(
        lambda: session.http.build_request(
            "POST", url, json={"prompt_ids": prompt_ids}, headers=session.key_headers
        )
    )
    await response.aclose()


async def results(session: Session, gateway: Gateway, prompt_ids: list[str]) -> list[PromptResult]:
    """The gateway's answers for `prompt_ids` (runs still going have `completed == False`)."""
    if not prompt_ids:
        return []
    url = gateway.endpoint(INFER_PATH + "/")
    response = await session.send(
        lambda: session.http.build_request(
            "GET", url, params={"prompt_ids": list(prompt_ids)}, headers=session.key_headers
        )
    )
    try:
        body = await session.read_json(response, "the gateway's results")
    finally:
        await response.aclose()
    if isinstance(body, Mapping) and isinstance(body.get("data"), list):
        body = body["data"]
    if not isinstance(body, list):
        raise MalformedResultError("the gateway's results are not a JSON list")
    return [PromptResult.from_camel(item) for item in body]
