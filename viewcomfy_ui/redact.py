"""Secrets out of text in any spelling a server may echo them in.

A secret is found as itself and as any piece of it `PIECE` characters long (so half of it, or
its tail, is found too), each in any letter case, URL-encoded (also every byte as ``%XX``), as hex,
and base64-encoded (standard and URL-safe alphabets, at any of the three byte alignments it may
have inside a longer encoded string). Every match is replaced, overlapping ones as one.
Pure, no imports from the package: the client and the page use it alike.
"""

from __future__ import annotations

import base64
import functools
import re
import urllib.parse
from collections.abc import Iterable

MIN_SECRET_LENGTH = 4  # shorter "secrets" would blank ordinary text
PIECE = 8  # any piece of a secret this long is a secret too
REDACTED = "***"
_FOLD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")  # keeps length


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every spelling of every secret (of `MIN_SECRET_LENGTH`+ characters) replaced
    by ``***``."""
    keys = tuple(sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}))
    if not keys or not text:
        return text
    spans: list[list[int]] = []
    folded = text.lower()  # any case; a letter that lowers to two (İ) would shift positions:
    if len(folded) != len(text):
        folded = text.translate(_FOLD)  # ASCII letters only (secrets and encodings are ASCII)
    for match in _pattern(keys).finditer(folded):  # a match at every position, overlaps too
        start, end = match.span(1)
        if spans and start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    if not spans:
        return text
    parts, last = [], 0
    for start, end in spans:
        parts += [text[last:start], REDACTED]
        last = end
    return "".join([*parts, text[last:]])


@functools.lru_cache(maxsize=16)
def _pattern(secrets: tuple[str, ...]) -> re.Pattern[str]:
    """One pattern (a trie, fast to scan) of every spelling of every piece, in lower case."""
    needles = {n.translate(_FOLD) for secret in secrets for n in spellings(secret) if n}
    return re.compile(f"(?=({_trie(needles)}))")


def spellings(secret: str) -> set[str]:
    """The strings that give `secret`, or a `PIECE`-long piece of it, away."""
    if len(secret) <= PIECE:
        pieces = [secret]
    else:
        pieces = [secret[i : i + PIECE] for i in range(len(secret) - PIECE + 1)]
    found: set[str] = set()
    for piece in pieces:
        data = piece.encode()
        found |= {
            piece,
            urllib.parse.quote(piece, safe=""),
            urllib.parse.quote(piece),
            urllib.parse.quote_plus(piece, safe=""),
            data.hex(),
            "".join(f"%{byte:02x}" for byte in data),
        }
        found |= _base64_spellings(data)
    return found


def _base64_spellings(data: bytes) -> set[str]:
    """The base64 characters that only `data` decides, at each alignment inside a longer
    encoding (the characters it shares with its neighbours' bits are left out)."""
    found = set()
    for offset in range(3):
        first = -(-offset * 8 // 6)  # the first character made of `data` bits only
        last = (offset + len(data)) * 8 // 6  # one past the last such character
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            found.add(encode(bytes(offset) + data)[first:last].decode())
    return found


def _trie(words: Iterable[str]) -> str:
    """A regex matching any of `words`, as a trie (each position is tried once per branch
    of its first character, not once per word); longer words are preferred."""
    root: dict[str, dict] = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}
    return _branch(root)


def _branch(node: dict[str, dict]) -> str:
    alternatives = [
        re.escape(char) + _branch(child) for char, child in sorted(node.items()) if char
    ]
    if not alternatives:
        return ""
    body = alternatives[0] if len(alternatives) == 1 else f"(?:{'|'.join(alternatives)})"
    if "" in node:  # a word ends here: a longer one may go on
        return f"(?:{body})?"
    return body
