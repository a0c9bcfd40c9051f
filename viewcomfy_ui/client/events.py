"""A Server-Sent-Events parser on bytes, for streams whose events can be hundreds of MB.

Same events as httpx-sse (tested against it as the oracle: every `data:` line joined with
``\\n``, CRLF/CR/LF line ends, comments, `id:`/`retry:`), but cheap on a huge `prompt_result`
(bench/bench_client.py): each byte is scanned once for a line end, and an event's data stays
bytes, in pieces. A line longer than `LONG_LINE` is not gathered into one buffer: the rest
of it goes into `Blocks` (memory maps), which `client.result` decodes and drops one by one. An
event larger than `max_bytes` is refused while it arrives, before it fills memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ResultTooLargeError
from .blocks import Blocks, Piece

LONG_LINE = 1 << 20  # bytes: a line this long goes on in blocks


@dataclass(frozen=True)
class Event:
    """One event. `pieces` is its data as UTF-8 bytes, in pieces (joined: `data`)."""

    event: str
    pieces: list[Piece | None] = field(repr=False)
    id: str
    retry: int | None

    @property
    def data(self) -> str:
        """The data as text (decoded as httpx-sse does: invalid UTF-8 becomes U+FFFD)."""
        return str(b"".join(p for p in self.pieces if p is not None), "utf-8", "replace")


class EventParser:
    """Feed it the body's bytes as they come; it returns the complete events."""

    def __init__(self, max_bytes: int) -> None:
        self._max = max_bytes
        self._buf = bytearray()  # the line being received, while it is short
        self._long: bytearray | None = None  # or the start of a long one,
        self._blocks = Blocks()  # and the rest of it
        self._skip_lf = False  # the last line ended with \r: a \n right after belongs to it
        self._event = ""
        self._data: list[Piece | None] = []
        self._size = 0  # bytes in _data
        self._id = ""
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[Event]:
        events: list[Event] = []
        pos, size = 0, len(chunk)
        if self._skip_lf and size:
            self._skip_lf = False
            pos = 1 if chunk[0] == 10 else 0
        while pos < size:
            end = _line_end(chunk, pos)
            if end < 0:
                self._keep(chunk, pos, size)
                break
            self._keep(chunk, pos, end)
            event = self._line(self._take_line())
            if event is not None:
                events.append(event)
            if chunk[end] == 13 and end + 1 == size:
                self._skip_lf = True  # \r last in this chunk: maybe \r\n across two chunks
            pos = end + 2 if chunk[end] == 13 and chunk[end + 1 : end + 2] == b"\n" else end + 1
        return events

    def close(self) -> list[Event]:
        """The end of the stream: a last unterminated line still counts (as in httpx-sse)."""
        if not (self._buf or self._long is not None):
            return []
        event = self._line(self._take_line())
        return [event] if event is not None else []

    def _keep(self, chunk: bytes, start: int, end: int) -> None:
        """Add chunk[start:end] to the line being received."""
        if start == end:
            return
        if self._long is not None:
            self._blocks.add(chunk, start, end)
        else:
            with memoryview(chunk) as view, view[start:end] as part:
                self._buf += part
            if len(self._buf) >= LONG_LINE:
                self._long, self._buf = self._buf, bytearray()
        size = len(self._buf) + len(self._long or b"") + self._blocks.size
        if size + self._size > self._max:
            raise ResultTooLargeError(
                f"an event from the endpoint is larger than {self._max / 2**20:g} MiB; raise "
                "the client's max_result_bytes to accept it"
            )

    def _take_line(self) -> list[Piece]:
        if self._long is not None:
            line, self._long = [self._long, *self._blocks.take()], None
        else:
            line, self._buf = [self._buf], bytearray()
        return line

    def _line(self, line: list[Piece]) -> Event | None:
        """One line, in pieces (one, or the chunks of a long line)."""
        first = line[0]
        if not first:
            if not (self._event or self._data or self._id or self._retry is not None):
                return None
            event = Event(self._event or "message", self._data, self._id, self._retry)
            self._event, self._data, self._size, self._retry = "", [], 0, None
            return event
        if first[0] == 58:  # ":" a comment
            return None
        colon = first.find(b":")
        if len(line) > 1 and not 0 <= colon < len(first) - 1:
            # The name or its ": " runs past the first piece (a junk line): read it whole.
            first = bytearray(b"".join(line))
            line = [first]
            colon = first.find(b":")
        name = bytes(first[: colon if colon >= 0 else len(first)])
        start = len(first) if colon < 0 else colon + 1
        if start < len(first) and first[start] == 32:  # one leading space is not data
            start += 1
        if name == b"data":
            if len(line) == 1:
                value: list[Piece] = [bytes(first[start:])]
            else:
                del first[:start]  # O(1) on a bytearray: it moves its start
                value = line
            if self._data:
                self._data.append(b"\n")
            self._data += value
            self._size += sum(len(p) for p in value) + 1
            return None
        text = str(b"".join(line)[start:], "utf-8", "replace")
        if name == b"event":
            self._event = text
        elif name == b"id":
            if "\0" not in text:
                self._id = text
        elif name == b"retry":
            try:
                self._retry = int(text)
            except ValueError:
                pass
        return None


def _line_end(buf: bytes, start: int) -> int:
    """The index of the first \\r or \\n at or after `start`, or -1 (memchr-fast finds)."""
    newline = buf.find(b"\n", start)
    stop = newline if newline >= 0 else len(buf)
    ret = buf.find(b"\r", start, stop)
    return ret if ret >= 0 else newline
