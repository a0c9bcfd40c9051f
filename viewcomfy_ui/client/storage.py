"""Downloading outputs given as `filepath` links (object storage, presigned and expiring).

Blocking on purpose: saving is file work, run it off the event loop (`asyncio.to_thread`).
The request carries no ViewComfy keys (this module never sees them) and its body goes to the
sink in chunks, so a 2 GB video never sits in memory. A redirect may not lead into a more
private network than the link itself (see `urls`).
"""

from __future__ import annotations

from typing import BinaryIO

import httpx

from ..errors import HTTPStatusError, LinkExpiredError, MalformedResultError, TransportError
from .urls import Scope, check_output_url

CHUNK_SIZE = 1 << 20
STORAGE_TIMEOUT = httpx.Timeout(300.0, connect=30.0)
MAX_REDIRECTS = 5


def storage_client() -> httpx.Client:
    """A client for output storage: no keys, no cookies kept between links."""
    return httpx.Client(timeout=STORAGE_TIMEOUT, follow_redirects=False)


def stream_to(url: str, sink: BinaryIO, name: str, http: httpx.Client | None = None) -> int:
    """Write the body at `url` into `sink`; returns the byte count. Typed errors name `name`."""
    if http is None:
        with storage_client() as own:
            return stream_to(url, sink, name, own)
    allowed: frozenset[Scope] = frozenset({check_output_url(url, name, None)})
    try:
        for _ in range(MAX_REDIRECTS + 1):
            with http.stream("GET", url) as response:
                if response.is_redirect and "location" in response.headers:
                    url = str(response.url.join(response.headers["location"]))
                    check_output_url(url, name, allowed)
                    continue
                _check(response, name)
                written = 0
                for chunk in response.iter_bytes(CHUNK_SIZE):
                    sink.write(chunk)
                    written += len(chunk)
                return written
    except httpx.DecodingError as exc:
        raise MalformedResultError(
            f"output {name!r} could not be decoded as its storage declared"
        ) from exc
    except httpx.TimeoutException as exc:
        raise TransportError(f"downloading output {name!r} timed out") from exc
    except httpx.TransportError as exc:
        raise TransportError(f"cannot download output {name!r} ({type(exc).__name__})") from exc
    raise TransportError(f"downloading output {name!r} was redirected too many times")


def _check(response: httpx.Response, name: str) -> None:
    status = response.status_code
    if status == 200:
        return
    if status == 403:
        raise LinkExpiredError(
            f"the link to output {name!r} has expired (HTTP 403 from storage); run again, and "
            "save outputs right after the run",
            status_code=status,
        )
    raise HTTPStatusError(
        f"downloading output {name!r} failed with HTTP {status}", status_code=status
    )
