"""A local, open implementation of the ViewComfy API (``POST /``) in front of an engine."""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import logging
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.datastructures import UploadFile

from ..errors import ParamsError, WorkflowError
from ..outputs import safe_filename
from ..workflow import ApiWorkflow, apply_params, load_workflow, split_key
from .engine import Engine, EngineError, InputFiles, InvalidInputError, RunCancelled
from .nodes import OutputFile

DEFAULT_MAX_UPLOAD = 50 * 1024 * 1024
KEEPALIVE_SECONDS = 15.0
logger = logging.getLogger("viewcomfy_ui.server")


@dataclass(frozen=True)
class ServerConfig:
    """`workflow` is the deployed workflow (a request may override it with `workflow_api`);
    `input_dir` holds files the workflow names; keys, when set, are required on every request."""

    engine: Engine
    workflow: ApiWorkflow | None = None
    input_dir: Path | None = None
    client_id: str | None = None
    client_secret: str | None = None
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD


class RequestError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def create_app(config: ServerConfig) -> FastAPI:
    app = FastAPI(title="viewcomfy-ui local API", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "engine": config.engine.name}

    @app.post("/")
    async def infer(request: Request) -> Any:
        run_dir = Path(tempfile.mkdtemp(prefix="viewcomfy-run-"))
        try:
            stream, workflow, inputs, refusal = await _prepare(request, config, run_dir)
        except RequestError as exc:
            shutil.rmtree(run_dir, ignore_errors=True)
            return JSONResponse({"detail": exc.detail}, status_code=exc.status)
        run = _Run(config.engine, workflow, inputs, run_dir, refusal)
        if stream:
            return StreamingResponse(
                run.events(), status_code=201, media_type="text/event-stream",
                headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
            )  # fmt: skip
        return await run.json_reply(request)

    return app


async def _prepare(
    request: Request, config: ServerConfig, run_dir: Path
) -> tuple[bool, ApiWorkflow, InputFiles, EngineError | None]:
    """Check keys, parse the multipart form, store uploads, apply params to the workflow, and ask
    the engine: a bad input is a 422 now; a graph it cannot run (`refusal`) is the run's error."""
    _check_keys(request, config)
    limit = config.max_upload_bytes
    declared = int(request.headers.get("content-length") or 0)
    if declared > 8 * limit + 1024 * 1024:
        raise RequestError(
            413, f"the request is {declared} bytes; uploads are limited to {limit} bytes each"
        )
    try:
        form = await request.form(max_files=100, max_fields=1000, max_part_size=64 * 1024 * 1024)
    except Exception as exc:  # noqa: BLE001 - any parse failure is the client's malformed body
        raise RequestError(422, f"the body is not valid multipart/form-data ({exc})") from None
    stream = str(form.get("logs") or "false").strip().lower() == "true"
    params = _json_field(form, "params", required=True)
    override = _json_field(form, "workflow_api", required=False)
    if not isinstance(params, Mapping):
        raise RequestError(422, "params must be a JSON object of {parameter key: value}")
    workflow = _workflow(override, config)
    params = dict(params)
    input_dir = run_dir / "input"
    input_dir.mkdir()
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            params[key] = _store_upload(key, value, workflow, input_dir, limit)
    if not params:
        raise RequestError(422, "params is empty: change at least one value (or the seed)")
    try:
        workflow = apply_params(workflow, params)
    except ParamsError as exc:
        raise RequestError(422, str(exc)) from None
    inputs = InputFiles(input_dir, config.input_dir)
    try:
        config.engine.check(workflow, inputs)
    except InvalidInputError as exc:
        raise RequestError(422, str(exc)) from None
    except EngineError as exc:
        return stream, workflow, inputs, exc
    return stream, workflow, inputs, None


def _check_keys(request: Request, config: ServerConfig) -> None:
    if not (config.client_id or config.client_secret):
        return
    given_id = request.headers.get("client_id", "")
    given_secret = request.headers.get("client_secret", "")
    if not (
        hmac.compare_digest(given_id.encode(), (config.client_id or "").encode())
        and hmac.compare_digest(given_secret.encode(), (config.client_secret or "").encode())
    ):
        raise RequestError(401, "invalid client_id or client_secret")


def _json_field(form: Any, name: str, *, required: bool) -> Any:
    raw = form.get(name)
    if isinstance(raw, UploadFile):
        raise RequestError(422, f"{name} must be a text field, not a file")
    if raw is None or raw.strip() in ("", "null"):
        if required:
            raise RequestError(422, f"{name} is missing: send it as a JSON text field")
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise RequestError(
            422, f"{name} is not valid JSON ({exc.msg} at column {exc.colno})"
        ) from None


def _workflow(override: Any, config: ServerConfig) -> ApiWorkflow:
    if override is not None:
        try:
            workflow = load_workflow(override, name="workflow_api")
        except WorkflowError as exc:
            raise RequestError(422, str(exc)) from None
        if workflow.api is None:
            raise RequestError(
                422, "workflow_api must be an API-format workflow, not flattened parameters"
            )
        return workflow.api
    if config.workflow is None:
        raise RequestError(422, "this server has no deployed workflow: send one as workflow_api")
    return config.workflow


def _store_upload(
    key: str, upload: UploadFile, workflow: ApiWorkflow, folder: Path, limit: int
) -> str:
    try:
        node_id, input_name = split_key(key)
    except ParamsError as exc:
        raise RequestError(422, f"file part {key!r}: {exc}") from None
    if input_name not in (workflow.get(node_id, {}).get("inputs") or {}):
        raise RequestError(422, f"file part {key!r} does not name an input of the workflow")
    size = upload.size if upload.size is not None else 0
    if size > limit:
        raise RequestError(413, f"upload {key!r} is {size} bytes; the limit is {limit} bytes")
    name = safe_filename(upload.filename or key, default="upload")
    stem, dot, ext = name.rpartition(".")
    target, n = folder / name, 1
    while target.exists():
        target, n = folder / (f"{stem}_{n}.{ext}" if dot else f"{name}_{n}"), n + 1
    upload.file.seek(0)
    with target.open("wb") as out:
        shutil.copyfileobj(upload.file, out)
    return target.name


class _Run:
    """One execution: the engine in a worker thread, its console lines fed to the reply."""

    def __init__(
        self,
        engine: Engine,
        workflow: ApiWorkflow,
        inputs: InputFiles,
        run_dir: Path,
        refusal: EngineError | None,
    ) -> None:
        self.engine, self.workflow, self.inputs, self.run_dir = engine, workflow, inputs, run_dir
        self.refusal = refusal
        self.cancelled = threading.Event()
        self.prompt_id = str(uuid.uuid4())

    def _start(self, on_line: Any) -> asyncio.Future[list[OutputFile]]:
        def execute() -> list[OutputFile]:
            if self.refusal is not None:
                raise self.refusal
            return self.engine.run(self.workflow, self.inputs, on_line, self.cancelled)

        self.started = time.monotonic()
        future = asyncio.get_running_loop().run_in_executor(None, execute)
        future.add_done_callback(self._finished)
        return future

    def _finished(self, future: asyncio.Future[list[OutputFile]]) -> None:
        """Runs when the engine returns, even after its client left: clean up the run's files."""
        shutil.rmtree(self.run_dir, ignore_errors=True)
        if not future.cancelled():
            future.exception()  # retrieved here, so an abandoned failure is not reported twice

    def _result(self, outputs: list[OutputFile]) -> dict[str, Any]:
        return {
            "prompt_id": self.prompt_id,
            "status": "success",
            "completed": True,
            "execution_time_seconds": round(time.monotonic() - self.started, 3),
            "prompt": self.workflow,
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

    async def events(self) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        lines: asyncio.Queue[str] = asyncio.Queue()
        future = self._start(lambda line: loop.call_soon_threadsafe(lines.put_nowait, line))
        try:
            while not (future.done() and lines.empty()):
                getter = asyncio.ensure_future(lines.get())
                await asyncio.wait(
                    {getter, future}, timeout=KEEPALIVE_SECONDS, return_when=asyncio.FIRST_COMPLETED
                )
                if getter.done():
                    yield _event("log_message", getter.result())
                else:
                    getter.cancel()
                    if not future.done():
                        yield b": keep-alive\n\n"
            try:
                outputs = future.result()
            except EngineError as exc:
                yield _event("error", str(exc))
                return
            except Exception as exc:
                logger.exception("run %s failed", self.prompt_id)
                yield _event("error", f"internal error in the engine: {type(exc).__name__}")
                return
            yield _event("prompt_result", json.dumps(self._result(outputs)))
        finally:
            self.cancelled.set()

    async def json_reply(self, request: Request) -> JSONResponse:
        future = self._start(lambda line: None)
        try:
            while not future.done():
                await asyncio.wait({future}, timeout=0.25)
                if not future.done() and await request.is_disconnected():
                    self.cancelled.set()
                    raise RunCancelled("the client disconnected")
            try:
                outputs = future.result()
            except RunCancelled:
                raise
            except EngineError as exc:
                return JSONResponse({"detail": str(exc)}, status_code=500)
            except Exception as exc:
                logger.exception("run %s failed", self.prompt_id)
                detail = f"internal error in the engine: {type(exc).__name__}"
                return JSONResponse({"detail": detail}, status_code=500)
            return JSONResponse(self._result(outputs), status_code=201)
        except RunCancelled:
            return JSONResponse({"detail": "cancelled"}, status_code=499)
        finally:
            self.cancelled.set()


def _event(name: str, data: str) -> bytes:
    """One SSE event; a multi-line `data` becomes several ``data:`` lines (CR counts as a break)."""
    lines = data.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    body = "".join(f"data: {line}\n" for line in lines)
    return f"event: {name}\n{body}\n".encode()
