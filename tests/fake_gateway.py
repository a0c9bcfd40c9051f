"""A fake ViewComfy realtime gateway (viewcomfy-api.md §6) on a real loopback port.

python-socketio's ASGI server plus a small Starlette app, run by uvicorn in a thread. Each test
scripts what a submitted run does with an async function, run on the server's loop:

    async def script(run: Run) -> None:
        await run.log("got prompt")
        await run.finish([gateway.store("a.png", b"...")])

    gateway.on_submit = script

and everything the client did is recorded: socket auth, submits (fields, files, headers),
cancels (and when the first arrived), results queries, and storage requests (headers), for
asserting what a user would notice. `moments` tell a test when the client is connecting, has
submitted, has re-subscribed after a reconnect, or is saving an output, so it can act right then (`hold_connect` keeps the socket
handshake waiting; `store(..., hold=)` a download).
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import socketio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

CLIENT_ID = "id-1"
SECRET = "s3cr3t-value-123"


@dataclass
class Run:
    """One submitted run, as the script sees it."""

    gateway: FakeGateway
    prompt_id: str
    sid: str | None
    fields: dict[str, str]
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)

    async def emit(self, event: str, payload: dict[str, Any]) -> None:
        if self.sid:
            await self.gateway.sio.emit(event, payload, to=self.sid)

    async def log(self, line: str) -> None:
        await self.emit("infer_log_message", {"prompt_id": self.prompt_id, "data": line})

    async def executed(self, node: str) -> None:
        await self.emit(
            "infer_executed_message", {"prompt_id": self.prompt_id, "data": {"node": node}}
        )

    async def error(self, data: Any) -> None:
        await self.emit("infer_error_message", {"prompt_id": self.prompt_id, "data": data})

    async def finish(self, outputs: list[dict[str, Any]], **extra: Any) -> None:
        """Send `infer_result_message` (exactly the PromptResult keys) and keep it for polling."""
        result = {
            "prompt_id": self.prompt_id,
            "status": "success",
            "completed": True,
            "execution_time_seconds": 1.5,
            "prompt": {},
            "outputs": outputs,
            **extra,
        }
        self.gateway.results[self.prompt_id] = result
        await self.emit("infer_result_message", result)

    async def drop(self) -> None:
        """Close the client's socket before any result."""
        if self.sid:
            await self.gateway.sio.disconnect(self.sid)

    async def resubscribed(self) -> None:
        """Wait until the client re-subscribed this run to a new socket."""
        await self.subscribed.wait()

    async def wait_cancelled(self) -> None:
        await self.cancelled.wait()


Script = Callable[[Run], Awaitable[None]]


async def _finish_empty(run: Run) -> None:
    await run.finish([])


class FakeGateway:
    def __init__(self) -> None:
        self.on_submit: Script = _finish_empty
        self.refuse_auth = False  # refuse every socket connection, whatever the keys
        self.resubscribable = False  # serve POST .../subscribe/{sid} (else 404, as older ones)
        self.subscribes: list[dict[str, Any]] = []  # {"sid", "json"} of each subscribe
        self.busy = 0  # answer this many submits 503 with Retry-After: 0 (nothing runs)
        self.connects: list[Any] = []  # the auth each socket connection sent
        self.submits: list[dict[str, Any]] = []  # {"headers", "fields", "files", "form"}
        self.cancels: list[dict[str, Any]] = []
        self.result_queries: list[list[str]] = []
        self.storage_requests: list[dict[str, str]] = []
        self.results: dict[str, dict[str, Any]] = {}  # snake_case results by prompt id
        self.pending: set[str] = set()  # prompt ids reported as still running by the results API
        self.runs: dict[str, Run] = {}
        # What the client is doing, for a test to act at that moment (set once each).
        self.moments: dict[str, threading.Event] = {
            name: threading.Event() for name in ("connecting", "submitted", "subscribed", "saving")
        }
        self.cancel_arrived = 0.0  # time.monotonic() when the first cancel request arrived
        self.hold_connect: threading.Event | None = None  # the socket handshake waits for it
        self.hold_cancel_reply: threading.Event | None = None  # a cancel's answer waits for it
        self._stored: dict[str, tuple[bytes | Path, str, bool, threading.Event | None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

        self.sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=[])
        self.sio.on("connect", self._connect)
        app = Starlette(
            routes=[
                Route("/api/workflow/infer", self._submit, methods=["POST"]),
                Route("/api/workflow/infer/cancel", self._cancel, methods=["POST"]),
                Route("/api/workflow/infer/subscribe/{sid}", self._subscribe, methods=["POST"]),
                Route("/api/workflow/infer/", self._results, methods=["GET"]),
                Route("/storage/{key}", self._storage, methods=["GET"]),
            ]
        )
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            socketio.ASGIApp(self.sio, other_asgi_app=app),
            log_level="error",
            timeout_graceful_shutdown=1,
            lifespan="off",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def __enter__(self) -> FakeGateway:
        self._thread.start()  # connections wait in the bound socket's backlog until it serves
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._sock.close()

    # --- storage -------------------------------------------------------------------------------

    def store(
        self,
        filename: str,
        content: bytes | Path,
        *,
        content_type: str = "image/png",
        expired: bool = False,
        hold: threading.Event | None = None,
    ) -> dict[str, Any]:
        """Keep `content` behind an unguessable storage link; returns the output dict. With
        `hold`, the download waits until it is set (503 if it is not within 20 s)."""
        key = secrets.token_urlsafe(16)
        self._stored[key] = (content, content_type, expired, hold)
        size = content.stat().st_size if isinstance(content, Path) else len(content)
        return {
            "filename": filename,
            "content_type": content_type,
            "size": size,
            "filepath": f"{self.url}/storage/{key}",
        }

    async def _storage(self, request: Request) -> Response:
        self.storage_requests.append(dict(request.headers))
        self.moments["saving"].set()
        stored = self._stored.get(request.path_params["key"])
        if stored is None:
            return Response("no such object", status_code=404)
        content, content_type, expired, hold = stored
        if hold is not None and not await asyncio.to_thread(hold.wait, 20):
            return Response("held too long", status_code=503)
        if expired:
            return Response(
                "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
                status_code=403,
                media_type="application/xml",
            )
        if isinstance(content, Path):
            return FileResponse(content, media_type=content_type)
        return Response(content, media_type=content_type)

    # --- socket.io and the API -----------------------------------------------------------------

    async def _connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        self.connects.append(auth)
        self.moments["connecting"].set()
        if self.hold_connect is not None:
            await asyncio.to_thread(self.hold_connect.wait, 20)
        if self.refuse_auth or auth != {"client_id": CLIENT_ID, "client_secret": SECRET}:
            raise socketio.exceptions.ConnectionRefusedError("invalid API key")

    @staticmethod
    def _authorized(request: Request) -> bool:
        return (
            request.headers.get("client_id") == CLIENT_ID
            and request.headers.get("client_secret") == SECRET
        )

    async def _submit(self, request: Request) -> Response:
        form = await request.form()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        files = {k: (v.filename, await v.read()) for k, v in form.items() if not isinstance(v, str)}
        await form.close()
        self.submits.append(
            {
                "headers": dict(request.headers),
                "fields": fields,
                "files": files,
                "content_type": request.headers.get("content-type", ""),
            }
        )
        if not self._authorized(request):
            return JSONResponse({"detail": "invalid API key"}, status_code=401)
        if self.busy:
            self.busy -= 1
            return JSONResponse({"detail": "busy"}, status_code=503, headers={"Retry-After": "0"})
        prompt_id = fields.get("prompt_id", "")
        run = Run(self, prompt_id, fields.get("sid"), fields)
        self.runs[prompt_id] = run
        task = asyncio.create_task(self.on_submit(run))
        self.moments["submitted"].set()
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return JSONResponse(
            {"data": {"prompt_id": prompt_id, "message": "queued", "workflow": None}},
            status_code=201,
        )

    async def _cancel(self, request: Request) -> Response:
        body = await request.json()
        self.cancel_arrived = self.cancel_arrived or time.monotonic()
        self.cancels.append({"headers": dict(request.headers), "json": body})
        if self.hold_cancel_reply is not None:
            await asyncio.to_thread(self.hold_cancel_reply.wait, 20)
        if not self._authorized(request):
            return JSONResponse({"detail": "invalid API key"}, status_code=401)
        run = self.runs.get(body.get("prompt_id"))
        if run is not None:
            run.cancelled.set()
            await run.emit("infer_canceled_message", {"prompt_id": run.prompt_id, "data": None})
        return JSONResponse({"data": {"message": "cancelled"}}, status_code=201)

    async def _subscribe(self, request: Request) -> Response:
        """The client's running runs (those it names, else all) send their events to `sid`."""
        if not self.resubscribable:
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        if not self._authorized(request):
            return JSONResponse({"detail": "invalid API key"}, status_code=401)
        sid = request.path_params["sid"]
        body = await request.json() if await request.body() else {}
        self.subscribes.append({"sid": sid, "json": body})
        named = body.get("prompt_ids") if isinstance(body, dict) else None
        moved = [p for p in self.runs if named is None or p in named]
        for prompt_id in moved:
            run = self.runs[prompt_id]
            run.sid = sid
            run.subscribed.set()
        self.moments["subscribed"].set()
        return JSONResponse({"data": {"sid": sid, "prompt_ids": moved}}, status_code=201)

    async def _results(self, request: Request) -> Response:
        ids = request.query_params.getlist("prompt_ids")
        self.result_queries.append(ids)
        if not self._authorized(request):
            return JSONResponse({"detail": "invalid API key"}, status_code=401)
        return JSONResponse([self._camel(prompt_id) for prompt_id in ids])

    def _camel(self, prompt_id: str) -> dict[str, Any]:
        done = self.results.get(prompt_id) if prompt_id not in self.pending else None
        result = done or {
            "status": "running",
            "completed": False,
            "execution_time_seconds": 0,
            "prompt": {},
            "outputs": [],
        }
        return {
            "promptId": prompt_id,
            "status": result["status"],
            "completed": result["completed"],
            "executionTimeSeconds": result["execution_time_seconds"],
            "prompt": result["prompt"],
            "outputs": [
                {
                    "filename": o["filename"],
                    "contentType": o["content_type"],
                    "size": o["size"],
                    "filepath": o["filepath"],
                }
                for o in result["outputs"]
            ],
            "errorData": result.get("error_data"),
            "createdAt": "2025-11-01T00:00:00Z",
            "workflow": None,
            "clientId": CLIENT_ID,
            "user": None,
        }
