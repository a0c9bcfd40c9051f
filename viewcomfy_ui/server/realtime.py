"""ViewComfy's realtime API (docs/viewcomfy-api.md §6) at this server's own origin.

socket.io at ``/socket.io/`` (auth ``{client_id, client_secret}``), ``POST /api/workflow/infer``
(201 ``{"data": {prompt_id, message, workflow}}``), events to the submitting ``sid`` only,
``POST /api/workflow/infer/cancel``, ``GET /api/workflow/infer/?prompt_ids=...`` (camelCase), and
the outputs as expiring links served by this server (`storage`).

A run outlives its socket: when the socket goes, its runs go on, and a new socket of the same
keys takes their events with ``POST /api/workflow/infer/subscribe/{sid}`` (as ViewComfy's app
does after a reconnect: no body moves every running run of the keys; JSON ``{"prompt_ids":
[...]}`` only those). Runs no socket took within `orphan_timeout` seconds are cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from typing import Any

import socketio
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from starlette.datastructures import FormData

from ..models import Failure, Preview
from .config import ServerConfig
from .http import ConnectionLimits
from .run import Run, RunSlots, failure
from .sockets import GatedServer
from .storage import LinkExpired, PromptRecord, RunStore, StorageRefused, results_json
from .submit import RequestError, check_keys, keys_match, read_json, receive, text_field

logger = logging.getLogger("viewcomfy_ui.server")
PROMPT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
MAX_PROMPT_IDS = 100
SWEEP_SECONDS = 30.0
PENDING_SHARE = 0.25  # of the connections, for sockets that have not proved their keys yet


class Realtime:
    """The socket.io server, the realtime routes and the runs they started."""

    def __init__(self, config: ServerConfig, slots: RunSlots, limits: ConnectionLimits) -> None:
        self.config, self.slots = config, slots
        self.store = RunStore(
            config.link_ttl,
            config.max_kept_runs,
            config.clock,
            lambda: config.new_folder("outputs"),
            config.max_client_storage_bytes,
        )
        self.sio = GatedServer(
            max(1, int(limits.connection_cap() * PENDING_SHARE)), limits.head_timeout,
            async_mode="asgi", logger=False, engineio_logger=False,
        )  # fmt: skip
        self.sio.on("connect", self._connect)
        self.sio.on("disconnect", self._disconnected)
        self._tasks: set[asyncio.Task[None]] = set()
        self._sids: dict[str, str] = {}  # a running run's prompt id -> the socket it reports to
        self._orphans: dict[str, asyncio.TimerHandle] = {}  # runs whose socket went away

    async def _connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        auth = auth if isinstance(auth, dict) else {}
        if not keys_match(self.config, auth.get("client_id"), auth.get("client_secret")):
            self.sio.refused(sid)
            raise socketio.exceptions.ConnectionRefusedError("invalid client_id or client_secret")
        self.sio.accepted(sid)

    def add_routes(self, app: FastAPI) -> None:
        app.post("/api/workflow/infer")(self.submit)
        app.post("/api/workflow/infer/cancel")(self.cancel)
        app.post("/api/workflow/infer/subscribe/{sid}")(self.subscribe)
        app.get("/api/workflow/infer/")(self.results)
        app.get("/api/workflow/infer")(self.results)
        app.get("/outputs/{token}/{name}")(self.download)

    async def sweeper(self) -> None:
        """Expire links and forget old runs even when no request comes."""
        while True:
            await asyncio.sleep(min(SWEEP_SECONDS, max(self.config.link_ttl / 2, 0.1)))
            self.store.sweep()

    async def shutdown(self) -> None:
        for record in self.store.running():
            if record.run is not None:
                record.run.cancelled.set()
        for task in list(self._tasks):
            task.cancel()
        self.store.close()

    async def submit(self, request: Request) -> JSONResponse:
        taken = await receive(request, self.config, self.slots.take, self._fields)
        prompt_id, sid, api_url = taken.fields
        workflow = {"view_comfy_api_url": api_url, "engine": self.config.engine.name}
        prepared = taken.prepared
        run = Run(self.config.engine, prepared, taken.run_dir, prompt_id, on_finished=taken.release)
        record = PromptRecord(
            prompt_id=prompt_id,
            client_id=request.headers.get("client_id") or None,
            prompt=prepared.workflow,
            workflow=workflow,
            base_url=str(request.base_url),
            created_at=self.config.clock(),
            run=run,
        )
        self.store.add(record)
        if sid is not None:
            self._sids[prompt_id] = sid
        task = asyncio.create_task(self._drive(record, run, sid))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda _: self._forget(prompt_id))
        data = {"prompt_id": prompt_id, "message": "the run was queued", "workflow": workflow}
        return JSONResponse({"data": data}, status_code=201)

    def _fields(self, form: FormData) -> tuple[str, str | None, str]:
        """The realtime fields: `prompt_id` (new and well formed), `sid` (a connected session,
        or none) and `view_comfy_api_url` (echoed back)."""
        prompt_id = text_field(form, "prompt_id") or str(uuid.uuid4())
        if not PROMPT_ID.fullmatch(prompt_id):
            raise RequestError(
                422, "prompt_id must be 1-128 letters, digits, '-', '_', '.' or ':' (a UUID)"
            )
        sid = text_field(form, "sid") or None
        if sid is not None and not self.sio.manager.is_connected(sid, "/"):
            raise RequestError(
                422, "sid is not a connected socket.io session: connect first, or omit sid"
            )
        if self.store.get(prompt_id) is not None:
            raise RequestError(409, f"prompt_id {prompt_id} is already used; send a new UUID")
        return prompt_id, sid, text_field(form, "view_comfy_api_url") or ""

    async def _drive(self, record: PromptRecord, run: Run, sid: str | None) -> None:
        """Run the engine, send its lines and outcome to `sid`, and record the result."""
        try:
            async for item in run.follow():
                if isinstance(item, Preview):  # our extension: docs/extensions.md
                    await self._emit(sid, "infer_preview_message", record, item.to_json())
                else:
                    await self._emit(sid, "infer_log_message", record, item)
        except asyncio.CancelledError:
            run.cancelled.set()
            raise
        outcome = run.outcome()
        record.execution_time_seconds = run.elapsed()
        if run.cancelled.is_set():  # whatever the engine raised or returned
            record.status = "cancelled"
            self.store.ended(record)
            await self._emit(sid, "infer_canceled_message", record, "the run was cancelled")
        elif isinstance(outcome, BaseException):
            record.status, record.error_data = "error", failure(run, outcome).to_json()
            self.store.ended(record)
            await self._emit(sid, "infer_error_message", record, record.error_data)
        else:
            try:
                await self.store.finish(record, outcome)
            except StorageRefused as exc:
                record.status, record.error_data = "error", Failure(str(exc)).to_json()
                self.store.ended(record)
                await self._emit(sid, "infer_error_message", record, record.error_data)
                return
            record.status = "success"
            executed = {"outputs": [o.filename for o in record.outputs]}
            await self._emit(sid, "infer_executed_message", record, executed)
            sid = self._sids.get(record.prompt_id, sid)
            if sid is not None:
                await self.sio.emit("infer_result_message", record.result(), to=sid)

    async def _emit(self, sid: str | None, event: str, record: PromptRecord, data: Any) -> None:
        """Send `event` to the run's socket: `sid`, or the one it was re-subscribed to."""
        sid = self._sids.get(record.prompt_id, sid)
        if sid is not None:
            await self.sio.emit(event, {"prompt_id": record.prompt_id, "data": data}, to=sid)

    # --- runs outlive their socket ----------------------------------------------------------

    async def _disconnected(self, sid: str, *_: Any) -> None:
        """The socket went away: its runs go on for `orphan_timeout`, for another to take."""
        loop = asyncio.get_running_loop()
        for prompt_id in [p for p, s in self._sids.items() if s == sid]:
            self._orphans[prompt_id] = loop.call_later(
                self.config.orphan_timeout, self._orphaned, prompt_id, sid
            )

    def _orphaned(self, prompt_id: str, sid: str) -> None:
        """No socket took the run in time: cancel it."""
        self._orphans.pop(prompt_id, None)
        record = self.store.get(prompt_id)
        if self._sids.get(prompt_id) == sid and record is not None and record.run is not None:
            logger.info("cancelling run %s: no socket re-subscribed to it in time", prompt_id)
            record.run.cancelled.set()

    def _forget(self, prompt_id: str) -> None:
        self._sids.pop(prompt_id, None)
        timer = self._orphans.pop(prompt_id, None)
        if timer is not None:
            timer.cancel()

    async def subscribe(self, sid: str, request: Request) -> JSONResponse:
        """Send the running runs of these keys (those named, or all) to the socket `sid`."""
        check_keys(request, self.config)
        if not self.sio.manager.is_connected(sid, "/"):
            raise RequestError(422, "sid is not a connected socket.io session: connect first")
        declared = request.headers.get("content-length")
        body = await read_json(request, self.config) if declared not in (None, "0") else {}
        body = body if isinstance(body, dict) else {}
        named = body.get("prompt_ids", body.get("promptIds"))  # their Python / TypeScript
        if named is not None and not (
            isinstance(named, list) and all(isinstance(p, str) for p in named)
        ):
            raise RequestError(422, "prompt_ids must be a list of prompt ids")
        client_id = request.headers.get("client_id") or None
        moved = []
        for prompt_id in list(self._sids):
            record = self.store.get(prompt_id)
            if record is None or record.client_id != client_id:
                continue
            if named is None or prompt_id in named:
                self._sids[prompt_id] = sid
                timer = self._orphans.pop(prompt_id, None)
                if timer is not None:
                    timer.cancel()
                moved.append(prompt_id)
        return JSONResponse({"data": {"sid": sid, "prompt_ids": moved}}, status_code=201)

    async def cancel(self, request: Request) -> JSONResponse:
        check_keys(request, self.config)
        body = await read_json(request, self.config)
        body = body if isinstance(body, dict) else {}
        prompt_id = body.get("prompt_id", body.get("promptId"))  # their Python / TypeScript
        if not isinstance(prompt_id, str):
            raise RequestError(
                422, "prompt_id is missing: send JSON {prompt_id, view_comfy_api_url}"
            )
        record = self.store.get(prompt_id)
        if record is None:
            raise RequestError(404, f"no run with prompt_id {prompt_id} on this server")
        if record.run is None:
            raise RequestError(409, f"the run {prompt_id} already ended ({record.status})")
        record.run.cancelled.set()
        data = {"prompt_id": prompt_id, "message": "the run is being cancelled"}
        return JSONResponse({"data": data}, status_code=201)

    async def results(self, request: Request) -> StreamingResponse:
        """The runs asked for, each once (in the order first asked), as one JSON list streamed
        in pieces written off the event loop."""
        check_keys(request, self.config)
        prompt_ids = list(dict.fromkeys(request.query_params.getlist("prompt_ids")))
        if not prompt_ids:
            raise RequestError(422, "give the runs as ?prompt_ids=<id>&prompt_ids=<id>")
        if len(prompt_ids) > MAX_PROMPT_IDS:
            raise RequestError(
                422, f"at most {MAX_PROMPT_IDS} distinct prompt_ids per request; ask in batches"
            )
        entries = self.store.entries(prompt_ids)
        return StreamingResponse(results_json(entries), media_type="application/json")

    async def download(self, token: str, name: str) -> Any:
        try:
            output = self.store.file(token)
        except LinkExpired as exc:
            return JSONResponse({"detail": str(exc)}, status_code=403)
        if output is None:
            return JSONResponse({"detail": "no such file"}, status_code=404)
        return FileResponse(
            output.path,
            media_type=output.content_type,
            filename=output.filename,
            headers={
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "sandbox",
                "Cache-Control": "private, no-store",
            },
        )


@contextlib.asynccontextmanager
async def lifespan(realtime: Realtime):
    sweeper = asyncio.create_task(realtime.sweeper())
    try:
        yield
    finally:
        sweeper.cancel()
        await realtime.shutdown()
