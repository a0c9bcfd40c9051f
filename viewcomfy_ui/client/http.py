"""What both protocols share: one connection pool, the keys, retries, and error replies.

Retries happen only where no run can have started: the connection was never made, or the
server answered 429/503 with `Retry-After` (it refused the request, so nothing ran).
"""

from __future__ import annotations

import asyncio
import email.utils
import inspect
import json
import random
import re
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx

from ..errors import (
    APITimeoutError,
    AuthenticationError,
    HTTPStatusError,
    MalformedResultError,
    RateLimitError,
    ResultTooLargeError,
    RunFailedError,
    TransportError,
)
from ..models import Failure
from ..redact import redact
from .blocks import Blocks, Piece
from .urls import origin

DEFAULT_TIMEOUT = 2400.0  # seconds for a whole run: ViewComfy's cold starts can take minutes
DEFAULT_CONNECT_TIMEOUT = 30.0
DEFAULT_MAX_RESULT_BYTES = 4 << 30  # a result (JSON reply or event) larger than this is refused
MAX_RETRY_AFTER = 120.0
MAX_ERROR_BODY = 64 * 1024  # an error reply is read this far: enough for any message
MAX_LOG_LINES = 1000  # an error's `logs` keeps the last lines only

T = TypeVar("T")


@dataclass
class Session:
    """One pool and one set of keys. The keys go only to `home` (the origin the protocol
    talks to): a redirect to another host, or output storage, never gets them."""

    home: str
    client_id: str = field(repr=False)
    client_secret: str = field(repr=False)
    timeout: float
    max_retries: int
    max_result_bytes: int
    http: httpx.AsyncClient = field(repr=False)
    # The prompt ids this client asked to stop, newest last: bounded, as one client may serve
    # an app's visitors for weeks.
    cancelled: deque[str] = field(default_factory=lambda: deque(maxlen=1024), repr=False)

    @classmethod
    def open(
        cls,
        home_url: str,
        client_id: str,
        client_secret: str,
        *,
        timeout: float,
        connect_timeout: float,
        max_retries: int,
        max_result_bytes: int,
        transport: httpx.AsyncBaseTransport | None,
    ) -> Session:
        home = origin(home_url)

        async def keep_keys_home(request: httpx.Request) -> None:
            if origin(request.url) != home:
                for name in ("client_id", "client_secret"):
                    request.headers.pop(name, None)

        http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            follow_redirects=True,
            transport=transport,
            event_hooks={"request": [keep_keys_home]},
        )
        return cls(home, client_id, client_secret, timeout, max_retries, max_result_bytes, http)

    @property
    def key_headers(self) -> dict[str, str]:
        return {"client_id": self.client_id, "client_secret": self.client_secret}

    def scrub(self, text: str) -> str:
        """`text` with the keys, in any spelling, replaced by ``***``: for anything shown to a
        user."""
        return redact(text, (s for s in (self.client_secret, self.client_id) if s))

    def failure(self, data: Any, logs: Iterable[str] = (), *, reason: str = "") -> RunFailedError:
        """The error for a run the server says failed: `data` is what it sent (a `Failure`
        object, its JSON text, or plain text; `reason` if it gives none), scrubbed of the keys."""
        failure = Failure.from_data(data)
        return RunFailedError(
            one_line(self.scrub(failure.reason or reason), MAX_ERROR_BODY),  # never cut short
            node_id=one_line(self.scrub(failure.node_id), 80),
            node_type=one_line(self.scrub(failure.node_type), 80),
            logs=list(logs),
        )

    async def send(
        self,
        build: Callable[[], httpx.Request],
        *,
        on_attempt: Callable[[], Awaitable[None]] | None = None,
    ) -> httpx.Response:
        """Send the request `build()` makes, streamed, retrying only where nothing can have run.

        Returns a response whose status is 200/201 (the caller closes it); raises the typed
        error otherwise. Hand-written rather than httpx's transport `retries=`: that retries
        unseen, and the app reports each attempt (`on_attempt`) and jitters the backoff.
        """
        where = self.home
        for attempt in range(self.max_retries + 1):
            if on_attempt:
                await on_attempt()
            try:
                response = await self.http.send(build(), stream=True)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if attempt < self.max_retries:  # nothing reached the server: safe to retry
                    await asyncio.sleep(backoff(attempt))
                    continue
                raise TransportError(
                    f"cannot connect to {where} ({reason(exc)}); check the URL and your network"
                ) from exc
            except httpx.TimeoutException as exc:
                raise APITimeoutError(f"{where} did not answer within {self.timeout:g} s") from exc
            except httpx.TooManyRedirects as exc:
                raise TransportError(
                    f"{where} redirected too many times (a redirect loop); check the URL"
                ) from exc
            except httpx.TransportError as exc:
                raise TransportError(f"the connection to {where} failed ({reason(exc)})") from exc
            if response.status_code in (200, 201):
                return response
            try:
                delay = retry_delay(response)
                if delay is not None and attempt < self.max_retries:
                    await asyncio.sleep(delay)
                    continue
                await self.raise_for_status(response)
            finally:
                await response.aclose()
        raise AssertionError("unreachable")  # pragma: no cover

    async def raise_for_status(self, response: httpx.Response) -> None:
        """The typed error for a non-2xx reply, its message from the first 64 KB of the body."""
        body = await read_capped(response, MAX_ERROR_BODY)
        detail = error_detail(body, response.headers.get("content-type", ""), self.scrub)
        status = response.status_code
        failed = _error_data(body)
        if failed is not None and status not in (401, 403, 429):  # our server: a failed run
            raise self.failure(failed, reason=detail)
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

    async def read_json(self, response: httpx.Response, what: str) -> Any:
        """The whole JSON body of a reply, at most `max_result_bytes`."""
        return loads(b"".join(await self.read_pieces(response, what)), what)

    async def read_pieces(self, response: httpx.Response, what: str) -> list[Piece]:
        """The whole body, in memory-mapped blocks; refused past `max_result_bytes`."""
        body = Blocks()
        try:
            async for chunk in response.aiter_bytes():
                body.add(chunk)
                if body.size > self.max_result_bytes:
                    raise too_large(what, self.max_result_bytes)
        except httpx.DecodingError as exc:
            raise MalformedResultError(f"{what} could not be decoded (bad compression)") from exc
        except httpx.TransportError as exc:
            raise TransportError(f"{what} was cut off ({reason(exc)})") from exc
        return body.take()


async def read_capped(response: httpx.Response, limit: int) -> bytes:
    """Up to `limit` bytes of the body. A body cut short or badly compressed yields what was
    read."""
    body = bytearray()
    try:
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) >= limit:
                break
    except (httpx.TransportError, httpx.DecodingError):
        pass
    return bytes(body[:limit])


def loads(body: str | bytes, what: str) -> Any:
    """JSON, with every way it can fail (bad text, huge ints, deep nesting) as one clear error."""
    try:
        return json.loads(body)
    except RecursionError as exc:
        raise MalformedResultError(f"{what} is JSON nested too deeply to read") from exc
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError, or a 5000-digit int
        problem = "has a number too long to read" if "digits" in str(exc) else "is not valid JSON"
        raise MalformedResultError(f"{what} {problem}; the server sent a broken reply") from exc


def too_large(what: str, limit: int) -> ResultTooLargeError:
    return ResultTooLargeError(
        f"{what} is larger than {limit / 2**20:g} MiB; raise the client's max_result_bytes "
        "to accept it"
    )


def retry_delay(response: httpx.Response) -> float | None:
    """Seconds to wait before re-sending, for 429/503 with `Retry-After` (seconds or an
    HTTP-date); None: do not retry."""
    if response.status_code not in (429, 503):
        return None
    value = response.headers.get("retry-after", "").strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def backoff(attempt: int) -> float:
    return min(8.0, 0.5 * 2**attempt) * (0.5 + random.random() / 2)


def error_detail(
    body: bytes, content_type: str, scrub: Callable[[str], str] = lambda text: text
) -> str:
    """A one-line message from an error body: JSON `detail`/`message`, an HTML title, or text;
    scrubbed before it is cut short (so no prefix of a secret survives)."""
    text = scrub(body.decode("utf-8", "replace"))
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
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
                return one_line(scrub(str(detail)))
        return one_line(text)
    if "html" in content_type or text.lstrip().startswith("<"):
        title = re.search(r"<title[^>]*>(.*?)</title>", text, re.I | re.S)
        text = title.group(1) if title else re.sub(r"<[^>]+>", " ", text)
    return one_line(text)


def _error_data(body: bytes) -> Any:
    """The `error_data` of a JSON error body (a failed run's `Failure`), or None."""
    try:
        obj = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return obj.get("error_data") if isinstance(obj, Mapping) else None


def one_line(text: str, limit: int = 300) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def reason(exc: BaseException) -> str:
    return one_line(str(exc) or type(exc).__name__, 120)


async def call(callback: Callable[..., Any] | None, *args: Any) -> None:
    """Call a sync or async callback."""
    if callback is None:
        return
    outcome = callback(*args)
    if inspect.isawaitable(outcome):
        await outcome
