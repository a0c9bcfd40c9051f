"""socket.io connections that have not proved their keys yet may hold only a share of the
server's connections, and only for a short time.

A socket.io client sends its keys in its first packet (socket.io's CONNECT, `auth`), after the
engine.io connection is open, so a connection cannot be judged when it opens. Until its CONNECT
is accepted it is *pending*: at most `limit` are pending at once (a new one closes the oldest, as a client
with keys sends them at once), each for at most `seconds` (then it is closed), and one whose
keys are refused is closed at once. Connections that proved their keys are not counted here:
the rest of the server's connections stay theirs.

python-socketio has no public hook at the engine.io handshake: `GatedServer` overrides its
`_handle_eio_connect` and `_handle_eio_disconnect` (python-socketio 5.x), and ends a refused
socket's send queue (python-engineio 4.x's `AsyncSocket.queue`) to close it at once.
test_sockets_without_keys_hold_only_their_share_and_briefly (tests/test_server_limits.py) pins
them, so an upgrade that changes them fails that test.
"""

from __future__ import annotations

import asyncio
from typing import Any

import socketio


class GatedServer(socketio.AsyncServer):
    """python-socketio's server with its pending connections bounded (see the module)."""

    def __init__(self, limit: int, seconds: float, **options: Any) -> None:
        super().__init__(**options)
        self.pending_limit, self.pending_seconds = limit, seconds
        self._pending: dict[str, asyncio.TimerHandle] = {}
        self._closing: set[asyncio.Task[None]] = set()

    async def _handle_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> Any:
        if len(self._pending) >= self.pending_limit:
            self._close(next(iter(self._pending)))  # the oldest: a client sends its keys at once
        loop = asyncio.get_running_loop()
        self._pending[eio_sid] = loop.call_later(self.pending_seconds, self._close, eio_sid)
        return await super()._handle_eio_connect(eio_sid, environ)

    async def _handle_eio_disconnect(self, eio_sid: str, reason: Any) -> None:
        self._settle(eio_sid)
        await super()._handle_eio_disconnect(eio_sid, reason)

    def accepted(self, sid: str, namespace: str = "/") -> None:
        """The connection's keys were accepted: it is no longer pending."""
        self._settle(self.manager.eio_sid_from_sid(sid, namespace))

    def refused(self, sid: str, namespace: str = "/") -> None:
        """The connection's keys were refused: close it once the refusal is sent."""
        eio_sid = self.manager.eio_sid_from_sid(sid, namespace)
        if eio_sid is not None:
            asyncio.get_running_loop().call_soon(self._close, eio_sid)

    def _settle(self, eio_sid: str | None) -> None:
        timer = self._pending.pop(eio_sid, None) if eio_sid is not None else None
        if timer is not None:
            timer.cancel()

    def _close(self, eio_sid: str) -> None:
        """Close an engine.io connection, after what was already queued for it."""
        self._settle(eio_sid)
        task = asyncio.ensure_future(self._disconnect(eio_sid))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _disconnect(self, eio_sid: str) -> None:
        """engine.io's disconnect sends its CLOSE packet and waits for the client to close;
        a client that never does would hold the connection until the ping timeout. Ending the
        socket's send queue (as engine.io does when the client goes) closes the transport."""
        socket = self.eio.sockets.get(eio_sid)
        await self.eio.disconnect(eio_sid)
        if socket is not None:
            socket.queue.put_nowait(None)
