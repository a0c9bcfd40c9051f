"""A request becomes a run: keys checked, the form read, uploads stored, params applied, and the
engine asked whether it can run the graph. Shared by ``POST /`` and the realtime API."""

from __future__ import annotations

import hmac
import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request

from ..errors import ParamsError, WorkflowError
from ..outputs import safe_filename
from ..workflow import ApiWorkflow, apply_params, load_workflow, split_key
from .config import ServerConfig
from .engine import EngineError, InputFiles, InvalidInputError


class RequestError(Exception):
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
    """The multipart or urlencoded body."""
    limit = config.max_upload_bytes
    declared = int(request.headers.get("content-length") or 0)
    if declared > 8 * limit + 1024 * 1024:
        raise RequestError(
            413, f"the request is {declared} bytes; uploads are limited to {limit} bytes each"
        )
    try:
        return await request.form(max_files=100, max_fields=1000, max_part_size=64 * 1024 * 1024)
    except Exception as exc:
        raise RequestError(422, f"the body is not a valid form ({exc})") from exc


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
            params[key] = _store_upload(key, value, workflow, input_dir, config.max_upload_bytes)
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
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise RequestError(
            422, f"{name} is not valid JSON ({exc.msg} at column {exc.colno})"
        ) from exc


def _workflow(override: Any, config: ServerConfig) -> ApiWorkflow:
    if override is not None:
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


def _store_upload(
    key: str, upload: UploadFile, workflow: ApiWorkflow, folder: Path, limit: int
) -> str:
    try:
        node_id, input_name = split_key(key)
    except ParamsError as exc:
        raise RequestError(422, f"file part {key!r}: {exc}") from exc
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
