"""A workflow file's note as safe Markdown: the file is untrusted, so no raw HTML, no images
loaded from elsewhere, links only to web pages, and a bounded length. Pure: no I/O."""

from __future__ import annotations

import re

MAX_NOTE = 2000  # characters of notes shown per section
OPENING = re.compile(r" {0,3}(`{3,}|~{3,})(.*)$")  # a fenced code block's first line
CLOSING = re.compile(r" {0,3}(`{3,}|~{3,})\s*$")
OTHER_SCHEME = re.compile(r"\]\(\s*<?(?!https?:|mailto:)[a-z][a-z0-9+.-]*:", re.IGNORECASE)


def note_markdown(text: str, limit: int = MAX_NOTE) -> str:
    """`text` cut to about `limit` characters (with "…"), then made inert: outside fenced code
    blocks (found as CommonMark finds them), `<` is shown as such (never a tag, nor in inline
    code, where it shows as ``&lt;``), an image becomes a link to it, and a link to anything
    but a web page or a mail address goes nowhere."""
    lines = []
    fence = ""
    for line in _cut(text.strip(), limit).split("\n"):
        if fence:
            closing = CLOSING.match(line)
            if closing and closing[1][0] == fence[0] and len(closing[1]) >= len(fence):
                fence = ""
            lines.append(line)
            continue
        opening = OPENING.match(line)
        if opening and not (opening[1][0] == "`" and "`" in opening[2]):
            fence = opening[1]
            lines.append(line[: opening.end(1)] + _inert(opening[2]))
            continue
        lines.append(_inert(line))
    return "\n".join(lines + ([fence] if fence else []))


def _inert(prose: str) -> str:
    prose = prose.replace("<", "&lt;").replace("![", "[")
    return OTHER_SCHEME.sub("](#", prose)


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ", limit - 80)
    return (cut[:space] if space > 0 else cut).rstrip() + "…"
