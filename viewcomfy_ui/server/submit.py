"""A request becomes a run: keys checked, the form read, uploads stored, params applied, and the
engine asked whether it can run the graph. Shared by ``POST /`` and the realtime API."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import math
import shutil
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect, Request

from ..errors import ParamsError, ViewComfyError, WorkflowError
from ..paths import safe_filename, unique_file
from ..workflow import ApiWorkflow, apply_params, load_workflow, split_key
from .config import ServerConfig
from .engine import EngineError, InputFiles, InvalidInputError

MAX_JSON_DEPTH = 64
MAX_SMALL_JSON = 64 * 1024
Fields = TypeVar("Fields")
T = TypeVar("T")


class RequestError(ViewComfyError):
    """The request cannot be served: `status` and a one-line `detail` for the client."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass
class Prepared:
    """A run ready to start; `refusal` is the engine's reason it cannot run (the run's error)."""

    workflow: ApiWorkflow
    inputs: InputFiles
    refusal: EngineError | None


@dataclass
class Submission(Generic[Fields]):
    """A request taken in: the protocol's own `fields`, the run `prepared` in `run_dir`, and
    `release` for its run slot (call it when the run ends)."""

    fields: Fields
    prepared: Prepared
    run_dir: Path
    release: Callable[[], None]


async def receive(
    request: Request,
    config: ServerConfig,
    take_slot: Callable[[], Callable[[], None]],
    read_fields: Callable[[FormData], Fields],
) -> Submission[Fields]:
    """The one intake of both protocols: keys checked, the form read within its size and time
    limits, a run slot taken (`take_slot` returns its release), the protocol's own fields read
    (`read_fields` may refuse with a RequestError), then the workflow prepared in a new run
    folder, off the event loop (uploads are copied, image headers read). The slot is taken only
    once the body is in, so a slow body holds none; when every slot is busy the request is
    refused (503) before its body is read. A refusal frees the slot and the folder; the form is
    closed either way."""
    check_keys(request, config)
    take_slot()()  # only a check: a busy server says so before a big body arrives for nothing
    form = await read_form(request, config)
    try:
        release = take_slot()
        try:
            fields = read_fields(form)
            run_dir = config.new_folder("run")
            try:
                prepared = await _in_thread(prepare, form, config, run_dir)
            except BaseException:
                shutil.rmtree(run_dir, ignore_errors=True)
                raise
        except BaseException:
            release()
            raise
    finally:
        await form.close()
    return Submission(fields, prepared, run_dir, release)


async def _in_thread(func: Callable[..., T], *args: Any) -> T:
    """`func(*args)` in a worker thread; if the caller is cancelled, the thread is still waited
    for, so what it wrote can be cleaned up and what it reads is not closed under it."""
    future = asyncio.get_running_loop().run_in_executor(None, func, *args)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        with contextlib.suppress(BaseException):
            await future
        raise


def keys_match(config: ServerConfig, given_id: Any, given_secret: Any) -> bool:
    """Constant-time check of a client id/secret pair (always true when no keys are set)."""
    if not config.needs_keys:
        return True
    if not isinstance(given_id, str) or not isinstance(given_secret, str):
        return False
    id_ok = hmac.compare_digest(given_id.encode(), (config.client_id or "").encode())
    secret_ok = hmac.compare_digest(given_secret.encode(), (config.client_secret or "").encode())
    return id_ok and secret_ok


def check_keys(request: Request, config: ServerConfig) -> None:
    headers = request.headers
    if not keys_match(config, headers.get("client_id", ""), headers.get("client_secret", "")):
        raise RequestError(401, "invalid client_id or client_secret")


async def read_form(request: Request, config: ServerConfig) -> FormData:
    """The multipart or urlencoded body, with every limit enforced while it streams in: each file
    part, all text fields together (they are held in memory), the whole body, and the time it
    may take (`max_body_seconds` in all, however steadily it trickles in: else 408)."""
    declared = int(request.headers.get("content-length") or 0)
    if declared > config.max_body_bytes:
        raise RequestError(
            413, f"the request is {declared} bytes; the limit is {config.max_body_bytes}"
        )
    stream = _counted(request.stream(), config.max_body_bytes)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        parser: Any = _LimitedMultiPartParser(request.headers, stream, config)
    elif content_type.startswith("application/x-www-form-urlencoded"):
        stream = _counted(stream, config.max_text_bytes)
        parser = FormParser(request.headers, stream, max_part_size=config.max_text_bytes)
    else:
        raise RequestError(
            422, "send the fields as multipart/form-data (or urlencoded without files)"
        )
    try:
        async with _body_arriving(config):
            return await parser.parse()
    except MultiPartException as exc:
        raise RequestError(422, f"the body is not a valid form ({exc.message})") from exc


async def read_json(request: Request, config: ServerConfig, limit: int = MAX_SMALL_JSON) -> Any:
    """A small JSON body (a cancel request), within `limit` bytes and `max_body_seconds`."""
    body = bytearray()
    async with _body_arriving(config):
        async for chunk in _counted(request.stream(), limit):
            body += chunk
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise RequestError(422, "the body is not valid JSON") from exc


@contextlib.asynccontextmanager
async def _body_arriving(config: ServerConfig) -> AsyncIterator[None]:
    """While a body streams in: `max_body_seconds` in all (408), its size limits (413), and a
    client that goes away (400), each as the RequestError that says so."""
    try:
        async with asyncio.timeout(config.max_body_seconds):
            yield
    except TimeoutError as exc:
        raise RequestError(
            408, f"the request body did not arrive within {config.max_body_seconds:g} seconds"
        ) from exc
    except _TooLarge as exc:
        raise RequestError(413, str(exc)) from exc
    except ClientDisconnect as exc:
        raise RequestError(400, "the client went away before sending the whole body") from exc


class _TooLarge(ViewComfyError):
    """A size limit was crossed while the body streamed in."""


async def _counted(stream: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    total = 0
    async for chunk in stream:
        total += len(chunk)
        if total > limit:
            raise _TooLarge(f"the request body is over the {limit} byte limit")
        yield chunk


class _LimitedMultiPartParser(MultiPartParser):
    """Starlette's parser, refusing a file part over `max_upload_bytes` and text fields over
    `max_text_bytes` in total as soon as the bytes arrive (files spool to disk, text is in RAM)."""

    def __init__(self, headers: Any, stream: AsyncIterator[bytes], config: ServerConfig) -> None:
        super().__init__(
            headers, stream, max_files=100, max_fields=1000, max_part_size=config.max_text_bytes
        )  # type: ignore[arg-type]
        self.file_limit, self.text_limit = config.max_upload_bytes, config.max_text_bytes
        self.part_bytes = self.text_bytes = 0

    def on_part_begin(self) -> None:
        super().on_part_begin()
        self.part_bytes = 0

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        # Starlette has no public per-file size limit, nor a public way to tell the part being
        # read; `_current_part` stays (pinned by test_size_limits_hold_while_a_chunked_body_
        # streams_in in tests/test_server.py: an upgrade that drops it fails that test).
        part = self._current_part
        if part.file is None:
            self.text_bytes += end - start
            if self.text_bytes > self.text_limit:
                raise _TooLarge(f"the text fields are over the {self.text_limit} byte limit")
        else:
            self.part_bytes += end - start
            if self.part_bytes > self.file_limit:
                raise _TooLarge(
                    f"upload {part.field_name!r} is over the {self.file_limit} byte limit"
                )
        super().on_part_data(data, start, end)


def prepare(form: FormData, config: ServerConfig, run_dir: Path) -> Prepared:
    """Parse `params`/`workflow_api`, store uploads in `run_dir`, apply params, ask the engine:
    a bad input is a `RequestError` now; a graph the engine cannot run is the run's error."""
    params = json_field(form, "params", required=True)
    override = json_field(form, "workflow_api", required=False)
    if not isinstance(params, Mapping):
        raise RequestError(422, "params must be a JSON object of {parameter key: value}")
    workflow = _workflow(override, config)
    params = dict(params)
    input_dir = run_dir / "input"
    input_dir.mkdir()
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            params[key] = _store_upload(key, value, workflow, input_dir)
    if not params:
        raise RequestError(422, "params is empty: change at least one value (or the seed)")
    try:
        workflow = apply_params(workflow, params)
    except ParamsError as exc:
        raise RequestError(422, str(exc)) from exc
    inputs = InputFiles(input_dir, config.input_dir)
    try:
        config.engine.check(workflow, inputs)
    except InvalidInputError as exc:
        raise RequestError(422, str(exc)) from exc
    except EngineError as exc:
        return Prepared(workflow, inputs, exc)
    return Prepared(workflow, inputs, None)


def text_field(form: FormData, name: str) -> str | None:
    raw = form.get(name)
    if isinstance(raw, UploadFile):
        raise RequestError(422, f"{name} must be a text field, not a file")
    return raw


def json_field(form: FormData, name: str, *, required: bool) -> Any:
    raw = text_field(form, name)
    if raw is None or raw.strip() in ("", "null"):
        if required:
            raise RequestError(422, f"{name} is missing: send it as a JSON text field")
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise RequestError(
            422, f"{name} is not valid JSON ({exc.msg} at column {exc.colno})"
        ) from exc
    except RecursionError as exc:
        raise RequestError(422, f"{name} is nested deeper than {MAX_JSON_DEPTH} levels") from exc
    except ValueError as exc:  # an integer of over 4300 digits
        raise RequestError(422, f"{name} is not usable JSON ({_first_line(exc)})") from exc
    _check_json(value, name)
    return value


def _check_json(value: Any, name: str) -> None:
    """Refuse nesting deeper than MAX_JSON_DEPTH, integers beyond 64 bits and NaN/Infinity."""
    stack = [(value, 1, name)]
    while stack:
        item, depth, where = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise RequestError(422, f"{name} is nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(item, dict):
            stack.extend((v, depth + 1, str(k)) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((v, depth + 1, where) for v in item)
        elif isinstance(item, int) and item.bit_length() > 64:
            raise RequestError(
                422, f"{name}: {where!r} is an integer of {item.bit_length()} bits; the limit is 64"
            )
        elif isinstance(item, float) and not math.isfinite(item):
            raise RequestError(422, f"{name}: {where!r} is {item}; send a finite number")


def _first_line(exc: BaseException) -> str:
    return str(exc).split(";")[0].splitlines()[0] if str(exc) else type(exc).__name__


def _workflow(override: Any, config: ServerConfig) -> ApiWorkflow:
    if override is not None:
        if not isinstance(override, dict):
            kind = "array" if isinstance(override, list) else type(override).__name__
            raise RequestError(
                422, f"workflow_api must be a JSON object of nodes, not a JSON {kind}"
            )
        _check_nodes(override)
        try:
            workflow = load_workflow(override, name="workflow_api")
        except WorkflowError as exc:
            raise RequestError(422, str(exc)) from exc
        if workflow.api is None:
            raise RequestError(
                422, "workflow_api must be an API-format workflow, not flattened parameters"
            )
        return workflow.api
    if config.workflow is None:
        raise RequestError(422, "this server has no deployed workflow: send one as workflow_api")
    return config.workflow


def _check_nodes(workflow: dict[str, Any]) -> None:
    """Each node must be an object whose `class_type` is text and whose `inputs` is an object."""
    for node_id, node in workflow.items():
        if not isinstance(node, dict):
            continue  # not a node; load_workflow skips it
        if "class_type" in node and not isinstance(node["class_type"], str):
            raise RequestError(422, f"workflow_api node {node_id!r}: class_type must be text")
        if "inputs" in node and not isinstance(node["inputs"], dict):
            got = "null" if node["inputs"] is None else type(node["inputs"]).__name__
            raise RequestError(
                422, f"workflow_api node {node_id!r}: inputs must be a JSON object, not {got}"
            )


def _store_upload(key: str, upload: UploadFile, workflow: ApiWorkflow, folder: Path) -> str:
    try:
        node_id, input_name = split_key(key)
    except ParamsError as exc:
        raise RequestError(422, f"file part {key!r}: {exc}") from exc
    if input_name not in (workflow.get(node_id, {}).get("inputs") or {}):
        raise RequestError(422, f"file part {key!r} does not name an input of the workflow")
    target, out = unique_file(folder, safe_filename(upload.filename or key, default="upload"))
    upload.file.seek(0)
    with out:
        shutil.copyfileobj(upload.file, out)
    return target.name
