"""A prompt result read from its raw bytes, each big base64 `data` decoded as it is read.

A result with a 100 MB output is ~133 MB of base64 in one JSON string. `json.loads` would hold
the text and the string at once, and `content()` the string and the bytes. Instead, every string
value of a ``"data"`` key that is long (`BIG`) and has no escapes is cut out of the JSON before
parsing: its base64 is decoded segment by segment while the pieces it arrived in are dropped,
and only the small rest goes to `json.loads`. The outcome is exactly `json.loads` (of the text
decoded as UTF-8 with replacement) then strict base64 decoding (tested against both): a value
that is not valid base64, or is not in `outputs`, is given back as the text it was.
"""

from __future__ import annotations

import binascii
import io
import re
import uuid
from collections.abc import Mapping
from typing import Any

from ..models import PromptResult
from .blocks import Piece
from .http import loads

BIG = 64 * 1024  # characters: a shorter string is left to json.loads
SEGMENT = 256 * 1024  # base64 characters decoded at a time (a multiple of 4)

_KEY = re.compile(rb'"data"[ \t\n\r]*:[ \t\n\r]*"')
_KEY_REACH = 64  # a key split across two pieces is found if it spans fewer bytes than this


def parse_result(pieces: list[Piece | None]) -> PromptResult:
    """The result whose JSON is the concatenation of `pieces`; each piece is set to None once
    read, so the caller's list no longer holds it."""
    token = f"vc-span-{uuid.uuid4().hex}-"
    rest, spans = _cut(pieces, token)
    obj = loads(str(rest, "utf-8", "replace"), "the prompt result")
    if spans:
        obj = _put_back(obj, spans, token)
    return PromptResult.from_json(obj)


class _Base64:
    """One long base64 string, decoded as it is written: its bytes, or its text if it is not
    valid (strict) base64. Only whole unpadded groups are decoded before the end, so the text
    can be rebuilt exactly from what was decoded."""

    def __init__(self) -> None:
        self._out = io.BytesIO()
        self._pending = bytearray()
        self._failed = False
        self._head = 0  # bytes decoded before the last segment
        self._tail = b""  # the last segment's text

    def write(self, piece: Piece | memoryview) -> None:
        """Decode what arrives, straight from `piece`, keeping back the last 1-4 characters
        (the end may be padded) and the rest of the text once decoding has failed."""
        with memoryview(piece) as view:
            if self._failed or len(self._pending) + len(view) <= 4:
                self._pending += view
                return
            keep = (len(self._pending) + len(view) - 1) % 4 + 1
            start = -len(self._pending) % 4  # completes the group begun in `_pending`
            if self._pending and not self._decode(bytes(self._pending) + view[:start]):
                self._pending += view
                return
            for at in range(start, len(view) - keep, SEGMENT):
                with view[at : min(at + SEGMENT, len(view) - keep)] as part:
                    if not self._decode(part):
                        self._pending = bytearray(view[at:])
                        return
            self._pending = bytearray(view[len(view) - keep :])

    def close(self) -> None:
        self._head, self._tail = self._out.tell(), bytes(self._pending)
        if not self._failed and self._decode(self._pending, final=True):
            self._pending = bytearray()

    def _decode(self, part: bytes | bytearray | memoryview, *, final: bool = False) -> bool:
        """Decode whole groups into the output; False (and failed) if they are not base64."""
        if not final and part[-1:] == b"=":  # padding before the end
            self._failed = True
            return False
        try:
            self._out.write(binascii.a2b_base64(part, strict_mode=True))
        except (binascii.Error, ValueError):
            self._failed = True
            return False
        return True

    def value(self) -> bytes | str:
        """The decoded bytes, or the JSON string it was if it is not valid base64."""
        return self.text() if self._failed else self._out.getvalue()  # getvalue: no copy

    def text(self) -> str:
        """The string as `json.loads` gives it."""
        head = self._out.getvalue()[: self._head]
        encoded = binascii.b2a_base64(head, newline=False) + self._tail
        return loads('"' + str(encoded, "utf-8", "replace") + '"', "the prompt result")


def _cut(pieces: list[Piece | None], token: str) -> tuple[bytearray, list[_Base64]]:
    """The JSON with each long ``"data"`` string replaced by `token` + its index, and those
    strings decoded."""
    rest = bytearray()
    spans: list[_Base64] = []
    searched = 0  # rest before this holds no key
    index, at = 0, 0  # the next unread byte: pieces[index][at]
    while index < len(pieces):
        piece = pieces[index] or b""
        pieces[index] = None
        with memoryview(piece) as view, view[at:] as unread:
            rest += unread
        index, at = index + 1, 0
        match = _KEY.search(rest, searched)
        if match is None:
            searched = max(searched, len(rest) - _KEY_REACH)
            continue
        index -= 1  # give the string's text back to the unread pieces
        pieces[index] = rest[match.end() :]
        del rest[match.end() :]
        end = _string_end(pieces, index)
        if end is None:  # escapes (or no end): json.loads reads the rest as it is
            for i in range(index, len(pieces)):
                rest += pieces[i] or b""
                pieces[i] = None
            break
        last, stop, length = end
        if length < BIG:
            for i in range(index, last):
                rest += pieces[i] or b""
                pieces[i] = None
            rest += (pieces[last] or b"")[:stop]
        else:
            span = _Base64()
            for i in range(index, last):
                span.write(pieces[i] or b"")
                pieces[i] = None
            with memoryview(pieces[last] or b"") as view, view[:stop] as tail:
                span.write(tail)
            span.close()
            rest += f"{token}{len(spans)}".encode()
            spans.append(span)
        index, at = last, stop
        searched = len(rest) + 1  # the closing quote, read next, starts no key
    return rest, spans


def _string_end(pieces: list[Piece | None], index: int) -> tuple[int, int, int] | None:
    """Where the JSON string starting at pieces[index] ends, if it has no escapes: the piece
    and offset of its closing quote, and its length."""
    length = 0
    for i in range(index, len(pieces)):
        piece = pieces[i] or b""
        quote = piece.find(b'"')
        stop = quote if quote >= 0 else len(piece)
        if piece.find(b"\\", 0, stop) >= 0:
            return None
        if quote >= 0:
            return i, quote, length + quote
        length += len(piece)
    return None


def _put_back(obj: Any, spans: list[_Base64], token: str) -> Any:
    """`obj` with each span in place: an output's `data` as its decoded bytes, anything else
    as the text it was."""
    claimed = 0
    outputs = obj.get("outputs") if isinstance(obj, Mapping) else None
    for output in outputs if isinstance(outputs, list) else []:
        if isinstance(output, dict) and (i := _span_index(output.get("data"), token)) is not None:
            output["data"] = spans[i].value()
            claimed += 1
    if claimed == len(spans):
        return obj
    # Any other "data" string goes back as text (a loop, not recursion: deep JSON is fine).
    stack = [obj] if isinstance(obj, dict | list) else []
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in list(items):
            if isinstance(value, dict | list):
                stack.append(value)
            elif (i := _span_index(value, token)) is not None:
                node[key] = spans[i].text()
    return obj


def _span_index(value: Any, token: str) -> int | None:
    if isinstance(value, str) and value.startswith(token):
        return int(value[len(token) :])
    return None
