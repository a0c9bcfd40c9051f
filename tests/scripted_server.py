"""A real HTTP server on loopback that replays scripted ViewComfy-protocol replies.

Each test queues replies; every request is recorded (headers, form fields, file parts) so tests
can assert what the client actually sent.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    fields: dict[str, str]
    files: dict[str, tuple[str, bytes]]
    peer: tuple[str, int] = ("", 0)  # the client's address: one connection, one peer


@dataclass
class Reply:
    """`body` is bytes, or an iterator of (delay seconds, bytes) chunks to stream."""

    status: int = 201
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | Callable[[], Iterator[tuple[float, bytes]]] = b""
    drop_after: bool = False  # close the connection without finishing the chunked body
    # Keep the reply open until the client closes the connection: before anything is sent
    # ("head") or after the body's chunks ("body").
    hold: Literal["", "head", "body"] = ""


def sse(event: str, data: str, *, newline: str = "\n") -> bytes:
    lines = [f"event: {event}"] + [f"data: {line}" for line in data.split("\n")]
    return (newline.join(lines) + newline + newline).encode()


def result_json(outputs: list[dict] | None = None, **extra) -> str:
    body = {
        "prompt_id": "p-1",
        "status": "success",
        "completed": True,
        "execution_time_seconds": 1.5,
        "prompt": {},
        "outputs": outputs if outputs is not None else [],
    }
    body.update(extra)
    return json.dumps(body)


def stream(chunks: list[bytes], delay: float = 0.0) -> Callable[[], Iterator[tuple[float, bytes]]]:
    return lambda: iter([(delay, c) for c in chunks])


class ScriptedServer:
    def __init__(self, port: int = 0) -> None:
        self.replies: list[Reply] = []
        self.requests: list[Recorded] = []
        self.holding = threading.Event()  # a reply is held (see `Reply.hold`)
        self.closed = threading.Event()  # the client closed a held reply's connection
        self.closed_at = 0.0  # time.monotonic() then
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def handle(self) -> None:
                try:
                    super().handle()
                except (ConnectionResetError, BrokenPipeError):
                    pass  # the client went away: part of several scenarios

            def do_GET(self) -> None:
                self._serve(b"")

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                self._serve(self.rfile.read(length))

            def _serve(self, raw: bytes) -> None:
                recorded = _record(self.path, dict(self.headers), raw)
                recorded.peer = self.client_address[:2]
                server.requests.append(recorded)
                reply = server.replies.pop(0) if server.replies else Reply(500, body=b"no reply")
                if reply.hold == "head":
                    self._hold()
                    return
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if isinstance(reply.body, bytes):
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                    return
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    for delay, chunk in reply.body():
                        time.sleep(delay)
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        self.wfile.flush()
                    if reply.drop_after:
                        self.close_connection = True
                        return
                    if reply.hold == "body":
                        self._hold()
                        return
                    self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            def _hold(self) -> None:
                """Until the client closes the connection (at most a minute)."""
                self.close_connection = True
                server.holding.set()
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    if select.select([self.connection], [], [], 0.05)[0]:
                        try:
                            open_still = self.connection.recv(1, socket.MSG_PEEK) != b""
                        except OSError:
                            open_still = False
                        if not open_still:
                            server.closed_at = time.monotonic()
                            server.closed.set()
                            return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/"
        # A short poll: serve_forever checks for shutdown only this often (0.5 s by default,
        # paid by every test that stops a server).
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def free_port() -> int:
    """A loopback port nothing listens on (yet)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _record(path: str, headers: dict[str, str], raw: bytes) -> Recorded:
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, bytes]] = {}
    content_type = headers.get("Content-Type") or headers.get("content-type") or ""
    if content_type.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + raw
        )
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            filename = part.get_filename()
            payload = part.get_payload(decode=True) or b""
            if filename is not None:
                files[name] = (filename, payload)
            else:
                fields[name] = payload.decode()
    lowered = {k.lower(): v for k, v in headers.items()}
    return Recorded(path=path, headers=lowered, fields=fields, files=files)
