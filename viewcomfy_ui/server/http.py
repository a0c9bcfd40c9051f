"""uvicorn settings that bound what slow or numerous clients can hold: a deadline for a request's
head, an idle timeout while its body arrives, keep-alive, and a cap on open connections.

uvicorn times out idle keep-alive connections, but not a request head that never completes
(slowloris) nor a stalled body, and after answering it keeps reading a body nobody will use for
as long as it trickles in; `guarded_protocol` bounds all three in its h11 protocol.

The subclass of uvicorn's `H11Protocol` stays because no public option does this: uvicorn has
no head or body timeout, and its `limit_concurrency` answers 503 rather than closing a connection
over the cap. It relies on `H11Protocol`'s attributes `conn`, `cycle`, `connections`,
`transport`, `loop` and its `on_response_complete` hook;
test_a_request_head_that_never_ends_is_cut_off_and_connections_are_capped (tests/test_server.py)
pins all three behaviours, so an upgrade that changes them fails that test, not production.
"""

from __future__ import annotations

import asyncio
import resource
import sys
from dataclasses import dataclass
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

MAX_BACKLOG = 2048  # uvicorn's default
DRAIN_SECONDS = 2.0  # after an answer, a body still arriving may go on this long, then closed


@dataclass(frozen=True)
class ConnectionLimits:
    """`head_timeout`: seconds for a request line and headers to arrive in full;
    `body_timeout`: longest silence while a body arrives; `keep_alive`: idle seconds between
    requests; `max_connections`: open connections (websockets included); more are closed at once."""

    head_timeout: float = 10.0
    body_timeout: float = 30.0
    keep_alive: int = 5
    max_connections: int = 1000

    def connection_cap(self) -> int:
        """`max_connections`, or fewer if the process's open-file limit has room for fewer."""
        return min(self.max_connections, DescriptorBudget.of_process().connections)


def guarded_protocol(limits: ConnectionLimits) -> type[H11Protocol]:
    """uvicorn's h11 protocol with `limits` enforced (the connection cap lowered, if need be, to
    what the process's file-descriptor limit leaves room for)."""
    cap = limits.connection_cap()

    class GuardedH11Protocol(H11Protocol):
        _timer: asyncio.TimerHandle | None = None
        _waiting_for: Any = None
        _draining = False  # answered while the body still arrives: a fixed deadline, then close

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > cap:
                transport.close()
                return
            self._watch()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            self._watch(data_arrived=True)

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop()
            super().connection_lost(exc)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._stop()  # idle now: uvicorn's keep-alive timeout takes over
            if self.conn.their_state is h11.SEND_BODY and not self.transport.is_closing():
                self._arm(h11.SEND_BODY, DRAIN_SECONDS)  # a refused body: stop reading it soon
                self._draining = True

        def _watch(self, data_arrived: bool = False) -> None:
            """A deadline for the head (from its first byte), an idle timer for the body."""
            state = self.conn.their_state
            if self._draining and state is h11.SEND_BODY:
                return
            self._draining = False
            if state is h11.IDLE and (data_arrived or self.cycle is None):
                if self._waiting_for is not h11.IDLE:
                    self._arm(h11.IDLE, limits.head_timeout)
            elif state is h11.SEND_BODY:
                self._arm(h11.SEND_BODY, limits.body_timeout)
            elif state is not h11.IDLE:
                self._stop()

        def _arm(self, state: Any, seconds: float) -> None:
            self._stop()
            self._waiting_for = state
            self._timer = self.loop.call_later(seconds, self._expired)

        def _stop(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
            self._timer, self._waiting_for = None, None

        def _expired(self) -> None:
            self._timer = None
            if self.conn.their_state is self._waiting_for and not self.transport.is_closing():
                self.transport.close()

    return GuardedH11Protocol


@dataclass(frozen=True)
class DescriptorBudget:
    """How the process's open-file limit is shared: `backlog` sockets accepted in one go (the
    event loop accepts a batch before any is closed), at most `connections` open, and a quarter
    of the limit left for files, the engine and outgoing connections. Past the limit accept()
    fails with EMFILE and a run cannot open its files."""

    connections: int
    backlog: int

    @classmethod
    def of_process(cls) -> DescriptorBudget:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY:
            return cls(sys.maxsize, MAX_BACKLOG)
        backlog = min(MAX_BACKLOG, max(64, soft // 8))
        return cls(max(1, soft - soft // 4 - backlog), backlog)


def uvicorn_config(
    app: Any, host: str, port: int, limits: ConnectionLimits | None = None, **options: Any
) -> uvicorn.Config:
    """uvicorn's settings for `app` with `limits`; `options` (uvicorn.Config's) come last."""
    limits = limits or ConnectionLimits()
    settings = {
        "http": guarded_protocol(limits),
        "backlog": DescriptorBudget.of_process().backlog,
        "timeout_keep_alive": limits.keep_alive,
        "log_level": "warning",
        **options,
    }
    return uvicorn.Config(app, host=host, port=port, **settings)
