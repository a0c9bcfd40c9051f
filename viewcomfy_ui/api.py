"""A client for ViewComfy endpoints (and anything that speaks their protocols).

Drop-in for ViewComfy's reference client (`infer`, `infer_with_logs`, same keyword arguments),
speaking either protocol: ``"sse"`` (the direct call: POST the deployment URL, JSON or
Server-Sent Events back) or ``"realtime"`` (today's gateway: socket.io events, outputs as
links, cancel, batch results). One reusable connection pool, typed errors, cold-start-friendly
timeouts, retries only where no run can have started.

    async with ViewComfyClient(url, client_id, client_secret, protocol="realtime") as client:
        result = await client.infer_with_logs({"6-inputs-text": "a cat"}, print)
        paths = await client.save_outputs(result, "outputs")
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import Any, TypeVar

import httpx

from .client import interrupt, realtime, sse
from .client.http import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_RESULT_BYTES,
    DEFAULT_TIMEOUT,
    Session,
)
from .client.params import is_file_param, split_params
from .client.realtime import DEFAULT_GATEWAY
from .client.storage import stream_to
from .client.types import (
    LogCallback,
    Phase,
    PhaseCallback,
    PreviewCallback,
    Protocol,
    RunRequest,
)
from .client.urls import Scope, check_output_url, host_scope
from .errors import (
    APIError,
    APITimeoutError,
    EmptyParamsError,
    ParamsError,
    RunCancelledError,
)
from .models import FileOutput, Preview, PromptResult
from .outputs import save_outputs

T = TypeVar("T")


class ViewComfyClient:
    """A ViewComfy API client with one connection pool. Use it as an async context manager.

    `api_url` is the deployment URL copied from the dashboard. `protocol="realtime"` talks to
    `gateway_url` (the keys go only there, never to `api_url` or to output storage); ``"sse"``
    posts to `api_url` itself. `timeout` is the budget for a whole run; waiting for a cold
    start may take all of it. `connect_timeout` bounds making the connection. `on_phase`
    (optional, per call) is told ``connecting`` -> ``waiting`` (request sent, no reply yet: a
    worker is booting) -> ``running`` (first log line) -> ``receiving`` (the result is
    arriving). `max_result_bytes` caps a result (a JSON reply or event). `transport` is the
    httpx seam for tests.
    """

    def __init__(
        self,
        api_url: str,
        client_id: str | None = None,
        client_secret: str | None = None,
        *,
        protocol: Protocol = "sse",
        gateway_url: str = DEFAULT_GATEWAY,
        timeout: float = DEFAULT_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        max_retries: int = 3,
        max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if protocol not in ("sse", "realtime"):
            raise ValueError(f"protocol must be 'sse' or 'realtime', not {protocol!r}")
        self.api_url = api_url
        self.protocol = protocol
        self.gateway_url = gateway_url
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._session = Session.open(
            gateway_url if protocol == "realtime" else api_url,
            client_id or "",
            client_secret or "",
            timeout=timeout,
            connect_timeout=connect_timeout,
            max_retries=max_retries,
            max_result_bytes=max_result_bytes,
            transport=transport,
        )
        self._gateway = realtime.Gateway(gateway_url, api_url, connect_timeout)
        self._allowed_scopes: frozenset[Scope] | None = None

    def __repr__(self) -> str:  # never show the secret
        return f"ViewComfyClient(api_url={self.api_url!r}, protocol={self.protocol!r})"

    async def __aenter__(self) -> ViewComfyClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._session.http.aclose()

    async def infer(
        self,
        params: Mapping[str, Any],
        *,
        override_workflow_api: Mapping[str, Any] | None = None,
        on_phase: PhaseCallback | None = None,
    ) -> PromptResult:
        """Run the workflow with `params` changed and return its result."""
        return await self._run(params, override_workflow_api, None, on_phase)

    async def infer_with_logs(
        self,
        params: Mapping[str, Any],
        logging_callback: LogCallback,
        *,
        override_workflow_api: Mapping[str, Any] | None = None,
        on_phase: PhaseCallback | None = None,
        on_preview: PreviewCallback | None = None,
    ) -> PromptResult:
        """Like `infer`, streaming ComfyUI's console: each log line reaches `logging_callback`
        (sync or async) as it arrives. `on_preview` (sync or async) gets live preview frames
        (`Preview`: prompt id, node id, content type, image bytes) from servers that send
        them (ours: docs/extensions.md); only the newest frame is ever held, and one over
        `models.MAX_PREVIEW_BYTES` is dropped."""
        return await self._run(
            params, override_workflow_api, logging_callback, on_phase, on_preview
        )

    async def submit(
        self, params: Mapping[str, Any], override_workflow_api: Mapping[str, Any] | None = None
    ) -> str:
        """Start a run without listening (realtime); returns its prompt id for `results`."""
        self._need_realtime("submit")
        values, files = split_params(_non_empty(params))
        request = RunRequest(values, files, override_workflow_api)
        return await realtime.submit(self._session, self._gateway, request)

    async def results(self, prompt_ids: list[str]) -> list[PromptResult]:
        """The results of runs started with `submit` (realtime); runs still going have
        ``completed == False``."""
        self._need_realtime("results")
        found = await realtime.results(self._session, self._gateway, list(prompt_ids))
        for result in found:
            await self._vet_links(result)
        return found

    async def cancel(self, prompt_id: str) -> None:
        """Stop the run `prompt_id` (realtime); its listener gets `RunCancelledError`."""
        self._need_realtime("cancel")
        await realtime.cancel(self._session, self._gateway, prompt_id)

    async def save_outputs(self, result: PromptResult, directory: str | Path) -> list[Path]:
        """`outputs.save_outputs` in a worker thread, so the event loop keeps running."""
        return await asyncio.to_thread(save_outputs, result, directory)

    # --- one run ---------------------------------------------------------------------------

    async def _run(
        self,
        params: Mapping[str, Any],
        override_workflow_api: Mapping[str, Any] | None,
        logging_callback: LogCallback | None,
        on_phase: PhaseCallback | None,
        on_preview: PreviewCallback | None = None,
    ) -> PromptResult:
        values, files = split_params(_non_empty(params))
        request = RunRequest(
            values, files, override_workflow_api, logging_callback, on_phase, on_preview
        )
        try:
            async with asyncio.timeout(self.timeout):
                if self.protocol == "realtime":
                    result = await realtime.run(self._session, self._gateway, request)
                else:
                    result = await sse.run(self._session, self.api_url, request)
                await self._vet_links(result)
                return result
        except TimeoutError as exc:
            raise APITimeoutError(
                f"no result within {self.timeout:g} s; raise the timeout for long runs"
            ) from exc

    async def _vet_links(self, result: PromptResult) -> None:
        """Refuse output links that are not http(s) or point into a private network the
        endpoint is not on (see `client.urls`); the others can then be downloaded (`content()`)."""
        links = [o for o in result.outputs if o.filepath and not o.body]
        if not links:
            return
        if self._allowed_scopes is None:  # the network of the host this client talks to
            home = await asyncio.to_thread(host_scope, httpx.URL(self._session.home).host)
            self._allowed_scopes = frozenset({home})
        for output in links:
            await asyncio.to_thread(
                check_output_url, output.filepath, output.filename, self._allowed_scopes
            )
            output.loader = stream_to

    def _need_realtime(self, what: str) -> None:
        if self.protocol != "realtime":
            raise ParamsError(f"{what}() needs the realtime gateway: use protocol='realtime'")


class SyncViewComfyClient:
    """`ViewComfyClient` for scripts without asyncio: same arguments, blocking methods.

    Ctrl-C during a realtime run cancels it on the gateway before raising KeyboardInterrupt;
    a second Ctrl-C stops at once.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._runner = asyncio.Runner()
        self._client = ViewComfyClient(*args, **kwargs)

    def __enter__(self) -> SyncViewComfyClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return interrupt.run(self._runner, coro)

    def infer(self, params: Mapping[str, Any], **kwargs: Any) -> PromptResult:
        return self._call(self._client.infer(params, **kwargs))

    def infer_with_logs(
        self, params: Mapping[str, Any], logging_callback: LogCallback, **kwargs: Any
    ) -> PromptResult:
        """As `ViewComfyClient.infer_with_logs` (`on_preview` included: called in this thread)."""
        return self._call(self._client.infer_with_logs(params, logging_callback, **kwargs))

    def submit(
        self, params: Mapping[str, Any], override_workflow_api: Mapping[str, Any] | None = None
    ) -> str:
        return self._call(self._client.submit(params, override_workflow_api))

    def results(self, prompt_ids: list[str]) -> list[PromptResult]:
        return self._call(self._client.results(prompt_ids))

    def cancel(self, prompt_id: str) -> None:
        self._call(self._client.cancel(prompt_id))

    def save_outputs(self, result: PromptResult, directory: str | Path) -> list[Path]:
        return save_outputs(result, directory)

    def close(self) -> None:
        try:
            self._call(self._client.aclose())
        finally:
            self._runner.close()


# --- the reference client's module-level functions ---------------------------------------------


async def infer(
    *,
    params: Mapping[str, Any],
    api_url: str,
    client_id: str,
    client_secret: str,
    override_workflow_api: Mapping[str, Any] | None = None,
    protocol: Protocol = "sse",
    gateway_url: str = DEFAULT_GATEWAY,
) -> PromptResult:
    """Same call as ViewComfy's reference `infer`, with typed errors and a real result."""
    async with ViewComfyClient(
        api_url, client_id, client_secret, protocol=protocol, gateway_url=gateway_url
    ) as client:
        return await client.infer(params, override_workflow_api=override_workflow_api)


async def infer_with_logs(
    *,
    params: Mapping[str, Any],
    logging_callback: LogCallback,
    api_url: str,
    client_id: str,
    client_secret: str,
    override_workflow_api: Mapping[str, Any] | None = None,
    protocol: Protocol = "sse",
    gateway_url: str = DEFAULT_GATEWAY,
    on_preview: PreviewCallback | None = None,
) -> PromptResult:
    """Same call as ViewComfy's reference `infer_with_logs`, streaming logs to the callback
    (and live preview frames to `on_preview`, where the server sends them)."""
    async with ViewComfyClient(
        api_url, client_id, client_secret, protocol=protocol, gateway_url=gateway_url
    ) as client:
        return await client.infer_with_logs(
            params,
            logging_callback,
            override_workflow_api=override_workflow_api,
            on_preview=on_preview,
        )


def _non_empty(params: Mapping[str, Any]) -> Mapping[str, Any]:
    if not params:
        raise EmptyParamsError(
            "params is empty: change at least one value (or the seed) so the endpoint runs "
            "the workflow and returns a new result"
        )
    return params


__all__ = [
    "DEFAULT_GATEWAY",
    "APIError",
    "FileOutput",
    "Phase",
    "Preview",
    "PromptResult",
    "Protocol",
    "RunCancelledError",
    "SyncViewComfyClient",
    "ViewComfyClient",
    "infer",
    "infer_with_logs",
    "is_file_param",
    "save_outputs",
    "split_params",
]
