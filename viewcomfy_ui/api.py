"""A client for ViewComfy endpoints (and anything that speaks their protocol).

Drop-in for ViewComfy's reference client (`infer`, `infer_with_logs`, same keyword arguments),
built on one reusable connection pool, a full Server-Sent-Events parser (httpx-sse), typed
errors, cold-start-friendly timeouts and retries only where no run can have started.

    async with ViewComfyClient(url, client_id, client_secret) as client:
        result = await client.infer_with_logs({"6-inputs-text": "a cat"}, print)
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import io
import json
import random
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any, Literal

import httpx
from httpx_sse import EventSource

from .errors import (
    APIError,
    APITimeoutError,
    AuthenticationError,
    EmptyParamsError,
    HTTPStatusError,
    IncompleteStreamError,
    MalformedResultError,
    RateLimitError,
    RunFailedError,
    TransportError,
)
from .models import FileOutput, PromptResult

DEFAULT_TIMEOUT = 2400.0  # seconds for a whole run: ViewComfy's cold starts can take minutes
DEFAULT_CONNECT_TIMEOUT = 30.0
MAX_RETRY_AFTER = 120.0

Phase = Literal["connecting", "waiting", "running", "receiving"]
LogCallback = Callable[[str], Any]
PhaseCallback = Callable[[Phase], Any]
FileParam = IO[bytes] | Path | bytes


class ViewComfyClient:
    """A ViewComfy API client with one connection pool. Use it as an async context manager.

    `timeout` is the budget for a whole run; waiting for the first byte (a cold start) may take
    all of it. `connect_timeout` bounds making the connection. `on_phase` (optional, per call)
    is told ``connecting`` -> ``waiting`` (request sent, no reply yet: a worker is booting) ->
    ``running`` (first log line) -> ``receiving`` (the result is arriving).
    `transport` is the httpx seam for tests.
    """

    def __init__(
        self,
        api_url: str,
        client_id: str | None = None,
        client_secret: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        max_retries: int = 3,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.api_url = api_url
        self.timeout = timeout
        self.max_retries = max_retries
        self._client_id = client_id or ""
        self._client_secret = client_secret or ""
        self._origin = _origin(api_url)
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            follow_redirects=True,
            transport=transport,
            event_hooks={"request": [self._keep_keys_home]},
        )

    async def _keep_keys_home(self, request: httpx.Request) -> None:
        """The keys go only to the endpoint's own origin: not to a redirect's other host, nor to
        output storage."""
        if _origin(str(request.url)) != self._origin:
            for name in ("client_id", "client_secret"):
                request.headers.pop(name, None)

    def __repr__(self) -> str:  # never show the secret
        return f"ViewComfyClient(api_url={self.api_url!r})"

    async def __aenter__(self) -> ViewComfyClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def infer(
        self,
        params: Mapping[str, Any],
        *,
        override_workflow_api: Mapping[str, Any] | None = None,
        on_phase: PhaseCallback | None = None,
    ) -> PromptResult:
        """Run the workflow with `params` changed and return its result (one JSON reply)."""
        return await self._run(params, override_workflow_api, None, on_phase)

    async def infer_with_logs(
        self,
        params: Mapping[str, Any],
        logging_callback: LogCallback,
        *,
        override_workflow_api: Mapping[str, Any] | None = None,
        on_phase: PhaseCallback | None = None,
    ) -> PromptResult:
        """Like `infer`, streaming ComfyUI's console: each log line reaches `logging_callback`
        (sync or async) as it arrives."""
        return await self._run(params, override_workflow_api, logging_callback, on_phase)

    # --- one run ---------------------------------------------------------------------------

    async def _run(
        self,
        params: Mapping[str, Any],
        override_workflow_api: Mapping[str, Any] | None,
        logging_callback: LogCallback | None,
        on_phase: PhaseCallback | None,
    ) -> PromptResult:
        if not params:
            raise EmptyParamsError(
                "params is empty: change at least one value (or the seed) so the endpoint runs "
                "the workflow and returns a new result"
            )
        values, files = split_params(params)
        data = {"logs": "true" if logging_callback else "false", "params": json.dumps(values)}
        if override_workflow_api:
            data["workflow_api"] = json.dumps(override_workflow_api)
        try:
            async with asyncio.timeout(self.timeout):
                result = await self._post(data, files, logging_callback, on_phase)
                await self._download_filepaths(result)
                return result
        except TimeoutError:
            raise APITimeoutError(
                f"no result within {self.timeout:g} s; raise the timeout for long runs"
            ) from None

    async def _post(
        self,
        data: dict[str, str],
        files: list[tuple[str, tuple[str, IO[bytes]]]],
        logging_callback: LogCallback | None,
        on_phase: PhaseCallback | None,
    ) -> PromptResult:
        headers = {"client_id": self._client_id, "client_secret": self._client_secret}
        if logging_callback:
            headers["Accept"] = "text/event-stream"
        for attempt in range(self.max_retries + 1):
            await _call(on_phase, "connecting")
            _rewind(files)
            # Always multipart/form-data, as the protocol says: text fields as parts without a filename.
            parts = [(name, (None, value)) for name, value in data.items()] + files
            request = self._http.build_request("POST", self.api_url, files=parts, headers=headers)
            try:
                response = await self._http.send(request, stream=True)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if attempt < self.max_retries:  # nothing reached the server: safe to retry
                    await asyncio.sleep(_backoff(attempt))
                    continue
                raise TransportError(
                    f"cannot connect to {_origin(self.api_url)} ({_reason(exc)}); check the "
                    "endpoint URL and your network"
                ) from None
            except httpx.TimeoutException:
                raise APITimeoutError(
                    f"{_origin(self.api_url)} did not answer within {self.timeout:g} s"
                ) from None
            except httpx.TransportError as exc:
                raise TransportError(
                    f"the connection to {_origin(self.api_url)} failed ({_reason(exc)})"
                ) from None
            try:
                delay = _retry_delay(response)
                if delay is not None and attempt < self.max_retries:
                    await asyncio.sleep(delay)
                    continue
                await self._check_status(response)
                return await self._read_result(response, logging_callback, on_phase)
            finally:
                await response.aclose()
        raise AssertionError("unreachable")  # pragma: no cover

    async def _check_status(self, response: httpx.Response) -> None:
        if response.status_code in (200, 201):
            return
        body = await response.aread()
        detail = self._scrub(_error_detail(body, response.headers.get("content-type", "")))
        status = response.status_code
        suffix = f": {detail}" if detail else ""
        if status in (401, 403):
            raise AuthenticationError(
                f"the endpoint refused the API key (HTTP {status}){suffix}; check "
                "VIEWCOMFY_CLIENT_ID and VIEWCOMFY_CLIENT_SECRET",
                status_code=status,
                detail=detail,
            )
        if status == 429:
            raise RateLimitError(
                f"rate limited (HTTP 429){suffix}; wait a moment and run again",
                status_code=status,
                detail=detail,
            )
        hint = {404: "; check the endpoint URL", 422: "; check the parameters"}.get(status, "")
        raise HTTPStatusError(
            f"the endpoint answered HTTP {status}{suffix}{hint}", status_code=status, detail=detail
        )

    async def _read_result(
        self,
        response: httpx.Response,
        logging_callback: LogCallback | None,
        on_phase: PhaseCallback | None,
    ) -> PromptResult:
        await _call(on_phase, "waiting")
        content_type = response.headers.get("content-type", "")
        if "text/event-stream" not in content_type:
            try:
                body = await response.aread()
            except httpx.TransportError as exc:
                raise TransportError(f"the reply was cut off ({_reason(exc)})") from None
            await _call(on_phase, "receiving")
            return _parse_result(body)
        return await self._read_events(response, logging_callback, on_phase)

    async def _read_events(
        self,
        response: httpx.Response,
        logging_callback: LogCallback | None,
        on_phase: PhaseCallback | None,
    ) -> PromptResult:
        logs: list[str] = []
        try:
            async for event in EventSource(response).aiter_sse():
                if event.event == "log_message":
                    if not logs:
                        await _call(on_phase, "running")
                    logs.append(event.data)
                    await _call(logging_callback, event.data)
                elif event.event == "error":
                    message = self._scrub(_one_line(event.data)) or "the run failed"
                    raise RunFailedError(f"the run failed: {message}", logs=logs)
                elif event.event == "prompt_result":
                    await _call(on_phase, "receiving")
                    return _parse_result(event.data)
        except httpx.TransportError as exc:
            raise IncompleteStreamError(
                f"the connection dropped before the result arrived ({_reason(exc)}); "
                f"{len(logs)} log lines were received",
                logs=logs,
            ) from None
        raise IncompleteStreamError(
            "the event stream ended without a result (the worker or a proxy closed it); "
            f"{len(logs)} log lines were received",
            logs=logs,
        )

    async def _download_filepaths(self, result: PromptResult) -> None:
        """Fetch outputs given as URLs. Sent without the ViewComfy headers: it is another host."""
        for output in result.outputs:
            if output.data or not output.filepath:
                continue
            if not output.filepath.startswith(("https://", "http://")):
                raise MalformedResultError(
                    f"output {output.filename!r} has a filepath that is not a URL"
                )
            try:
                response = await self._http.get(output.filepath)
            except httpx.TransportError as exc:
                raise TransportError(
                    f"cannot download output {output.filename!r} ({_reason(exc)})"
                ) from None
            if response.status_code != 200:
                raise HTTPStatusError(
                    f"downloading output {output.filename!r} failed with HTTP "
                    f"{response.status_code} (its link may have expired)",
                    status_code=response.status_code,
                )
            output.data = base64.b64encode(response.content).decode("ascii")
            output.size = output.size or len(response.content)

    def _scrub(self, text: str) -> str:
        for secret in (self._client_secret, self._client_id):
            if secret and len(secret) >= 4:
                text = text.replace(secret, "***")
        return text


class SyncViewComfyClient:
    """`ViewComfyClient` for scripts without asyncio: same arguments, blocking methods."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._client = ViewComfyClient(*args, **kwargs)

    def __enter__(self) -> SyncViewComfyClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def infer(self, params: Mapping[str, Any], **kwargs: Any) -> PromptResult:
        return self._loop.run_until_complete(self._client.infer(params, **kwargs))

    def infer_with_logs(
        self, params: Mapping[str, Any], logging_callback: LogCallback, **kwargs: Any
    ) -> PromptResult:
        return self._loop.run_until_complete(
            self._client.infer_with_logs(params, logging_callback, **kwargs)
        )

    def close(self) -> None:
        if not self._loop.is_closed():
            self._loop.run_until_complete(self._client.aclose())
            self._loop.close()


# --- the reference client's module-level functions ---------------------------------------------


async def infer(
    *,
    params: Mapping[str, Any],
    api_url: str,
    client_id: str,
    client_secret: str,
    override_workflow_api: Mapping[str, Any] | None = None,
) -> PromptResult:
    """Same call as ViewComfy's reference `infer`, with typed errors and a real result."""
    async with ViewComfyClient(api_url, client_id, client_secret) as client:
        return await client.infer(params, override_workflow_api=override_workflow_api)


async def infer_with_logs(
    *,
    params: Mapping[str, Any],
    logging_callback: LogCallback,
    api_url: str,
    client_id: str,
    client_secret: str,
    override_workflow_api: Mapping[str, Any] | None = None,
) -> PromptResult:
    """Same call as ViewComfy's reference `infer_with_logs`, streaming logs to the callback."""
    async with ViewComfyClient(api_url, client_id, client_secret) as client:
        return await client.infer_with_logs(
            params, logging_callback, override_workflow_api=override_workflow_api
        )


# --- helpers ---------------------------------------------------------------------------------


def is_file_param(value: Any) -> bool:
    """Open binary files, paths and raw bytes are sent as multipart file parts."""
    return isinstance(value, Path | bytes | bytearray | io.IOBase) or (
        hasattr(value, "read") and not isinstance(value, str)
    )


def split_params(
    params: Mapping[str, Any],
) -> tuple[dict[str, Any], list[tuple[str, tuple[str, IO[bytes]]]]]:
    """JSON values, and multipart file parts ``(key, (filename, file))`` for file params."""
    values: dict[str, Any] = {}
    files: list[tuple[str, tuple[str, IO[bytes]]]] = []
    for key, value in params.items():
        if not is_file_param(value):
            values[key] = value
        elif isinstance(value, Path):
            files.append((key, (value.name, value.open("rb"))))
        elif isinstance(value, bytes | bytearray):
            files.append((key, (key, io.BytesIO(bytes(value)))))
        else:
            name = Path(str(getattr(value, "name", "") or key)).name
            files.append((key, (name, value)))
    return values, files


def _rewind(files: list[tuple[str, tuple[str, IO[bytes]]]]) -> None:
    for _, (_, handle) in files:
        if getattr(handle, "seekable", lambda: False)():
            if not hasattr(handle, "_viewcomfy_start"):
                handle._viewcomfy_start = handle.tell()  # type: ignore[union-attr]
            handle.seek(handle._viewcomfy_start)  # type: ignore[union-attr]


def _parse_result(body: str | bytes) -> PromptResult:
    try:
        obj = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise MalformedResultError(
            "the prompt result is not valid JSON; the server sent a broken reply"
        ) from None
    return PromptResult.from_json(obj)


def _retry_delay(response: httpx.Response) -> float | None:
    """Seconds to wait before re-sending, for 429/503 with Retry-After; None: do not retry."""
    if response.status_code not in (429, 503):
        return None
    value = response.headers.get("retry-after", "").strip()
    if not value.replace(".", "", 1).isdigit():
        return None
    return min(float(value), MAX_RETRY_AFTER)


def _backoff(attempt: int) -> float:
    return min(8.0, 0.5 * 2**attempt) * (0.5 + random.random() / 2)


def _error_detail(body: bytes, content_type: str) -> str:
    text = body.decode("utf-8", "replace")
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        obj = None
    if isinstance(obj, Mapping):
        for key in ("detail", "message", "error", "msg"):
            if obj.get(key):
                detail = obj[key]
                if isinstance(detail, Mapping):
                    detail = detail.get("message") or json.dumps(detail)
                elif isinstance(detail, list):
                    detail = "; ".join(
                        str(d.get("msg", d)) if isinstance(d, Mapping) else str(d) for d in detail
                    )
                return _one_line(str(detail))
        return _one_line(text)
    if "html" in content_type or text.lstrip().startswith("<"):
        title = re.search(r"<title[^>]*>(.*?)</title>", text, re.I | re.S)
        text = title.group(1) if title else re.sub(r"<[^>]+>", " ", text)
    return _one_line(text)


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _origin(url: str) -> str:
    try:
        parsed = httpx.URL(url)
        return f"{parsed.scheme}://{parsed.host}" + (f":{parsed.port}" if parsed.port else "")
    except Exception:  # noqa: BLE001 - an unparsable URL still needs a message
        return "the endpoint"


def _reason(exc: Exception) -> str:
    return _one_line(str(exc) or type(exc).__name__, 120)


async def _call(callback: Callable[..., Any] | None, *args: Any) -> None:
    if callback is None:
        return
    outcome = callback(*args)
    if inspect.isawaitable(outcome):
        await outcome


__all__ = [
    "APIError",
    "FileOutput",
    "PromptResult",
    "SyncViewComfyClient",
    "ViewComfyClient",
    "infer",
    "infer_with_logs",
]
