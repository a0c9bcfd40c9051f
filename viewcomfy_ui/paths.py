"""Paths and names: safe file names, new files that never overwrite, lookups confined to a folder.

The one low module that the client, the server and the history use for names from outside
(server-given output names, visitors' uploads, stored file names). No imports from the package.
"""

from __future__ import annotations

import os
import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import BinaryIO

MAX_NAME_LENGTH = 120
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"{d}{i}" for d in ("COM", "LPT") for i in range(10))}  # fmt: skip


def safe_filename(name: str, default: str = "output") -> str:
    """A filename that is safe on any OS: last path component only, no control characters,
    no reserved characters, no leading dots, bounded length."""
    name = unicodedata.normalize("NFC", str(name))
    name = PureWindowsPath(PurePosixPath(name).name).name  # drop any directories, / or \
    name = _UNSAFE.sub("_", name).strip().lstrip(".").strip()
    if not name or set(name) <= {"_", " "}:
        name = default
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    ext = ext[:16]
    stem = stem[: MAX_NAME_LENGTH - len(ext) - 1] or default
    if stem.upper().split(".")[0] in _WINDOWS_RESERVED:
        stem = f"_{stem}"
    return f"{stem}.{ext}" if ext else stem


_MAX_REMEMBERED = 16384  # (directory, name) pairs; the oldest are forgotten (then re-found)
_next_suffix: OrderedDict[tuple[str, str], int] = OrderedDict()  # (directory, name) -> next n
_lock = threading.Lock()
_LINEAR_TRIES = 4  # taken suffixes tried one by one before searching in O(log n) probes


def unique_file(directory: Path, name: str) -> tuple[Path, BinaryIO]:
    """Create a new file in `directory` named `name`, else `stem_1.ext`, `stem_2.ext`, ...;
    returns its path and the open handle. Never overwrites (``open("xb")``). Remembers the next
    free suffix per name, so saving n files with one name costs O(1) each; a name forgotten
    (past `_MAX_REMEMBERED`) is found again in O(log n) probes, never by trying each suffix."""
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""

    def named(n: int) -> Path:
        return directory / (name if n == 0 else f"{stem}_{n}{dot}{ext}")

    key = (os.path.abspath(directory), name)
    with _lock:
        n, tries = _next_suffix.pop(key, 0), 0
        while True:
            try:
                handle = named(n).open("xb")  # "x": fails if it exists, so never overwrites
            except FileExistsError:  # forgotten, or taken by someone else: search on
                tries += 1
                n = n + 1 if tries < _LINEAR_TRIES else _first_free(named, n + 1)
                continue
            _next_suffix[key] = n + 1
            while len(_next_suffix) > _MAX_REMEMBERED:
                _next_suffix.popitem(last=False)
            return named(n), handle


def _first_free(named: Callable[[int], Path], start: int) -> int:
    """A suffix from `start` on whose file does not exist: the first one when the taken ones
    run on without gaps (as this module makes them), in O(log k) probes for k taken."""
    if not os.path.lexists(named(start)):
        return start
    taken, step = start, 1  # `taken` exists; gallop until a free one...
    while os.path.lexists(named(taken + step)):
        taken += step
        step *= 2
    free = taken + step
    while free - taken > 1:  # ...then halve the gap between the last taken and it
        middle = (taken + free) // 2
        if os.path.lexists(named(middle)):
            taken = middle
        else:
            free = middle
    return free


def find_inside(folder: Path, name: object) -> Path | None:
    """The file `name` inside `folder`, or None: the one path-confinement check (``..``,
    absolute paths, backslashes and symlinks out of `folder` all give None)."""
    if not isinstance(name, str) or "\0" in name:
        return None
    folder = folder.resolve()
    try:  # any text may arrive here: a prompt longer than a file name can be is no file
        candidate = (folder / name.replace("\\", "/")).resolve()
        return candidate if candidate.is_relative_to(folder) and candidate.is_file() else None
    except OSError:
        return None
