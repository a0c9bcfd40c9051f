"""A workflow file's note as safe Markdown: the file is untrusted, so no raw HTML, no images
loaded from elsewhere, links only to web pages, and a bounded length. Pure: no I/O."""

from __future__ import annotations

import re

MAX_NOTE = 2000  # characters of notes shown per section
CODE = re.compile(r"(```[\s\S]*?(?:```|$)|~~~[\s\S]*?(?:~~~|$)|`[^`\n]+`)")
FENCE = re.compile(r"^(```|~~~)", re.MULTILINE)
OTHER_SCHEME = re.compile(r"\]\(\s*<?(?!https?:|mailto:)[a-z][a-z0-9+.-]*:", re.IGNORECASE)


def note_markdown(text: str, limit: int = MAX_NOTE) -> str:
    """`text` cut to about `limit` characters (with "…"), then made inert: outside code, `<`
    is shown as such (never a tag), an image becomes a link to it, and a link to anything but
    a web page or a mail address goes nowhere."""
    text = _cut(text.strip(), limit)
    parts = CODE.split(text)
    return "".join(part if i % 2 else _inert(part) for i, part in enumerate(parts))


def _inert(prose: str) -> str:
    prose = prose.replace("<", "&lt;").replace("![", "[")
    return OTHER_SCHEME.sub("](#", prose)


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ", limit - 80)
    cut = (cut[:space] if space > 0 else cut).rstrip() + "…"
    fences = FENCE.findall(cut)
    return f"{cut}\n{fences[-1]}" if len(fences) % 2 else cut
