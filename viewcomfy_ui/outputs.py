"""Output files: what kind of media each is, and saving them under safe, unique names.

Server-given filenames are hostile input: only their last path component survives, cleaned of
control and reserved characters, and an existing file is never overwritten. Saving is blocking
file work: from async code run it in a thread (`ViewComfyClient.save_outputs` does).
Outputs given as links stream to disk in chunks, without the ViewComfy keys.
"""

from __future__ import annotations

import binascii
import mimetypes
import os
import re
import threading
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import BinaryIO, Literal

import httpx

from .client.storage import storage_client, stream_to
from .errors import MalformedResultError
from .models import FileOutput, PromptResult

MediaKind = Literal["image", "video", "audio", "text", "other"]

EXTENSION_KINDS: dict[str, MediaKind] = {
    **dict.fromkeys(("png", "jpg", "jpeg", "webp", "gif", "bmp", "tif", "tiff", "avif"), "image"),
    **dict.fromkeys(("mp4", "webm", "mov", "mkv", "avi", "m4v"), "video"),
    **dict.fromkeys(("wav", "mp3", "flac", "ogg", "opus", "m4a", "aac"), "audio"),
    **dict.fromkeys(("txt", "json", "md", "csv"), "text"),
}
MAX_NAME_LENGTH = 120
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')


@dataclass(frozen=True)
class SavedOutput:
    path: Path
    kind: MediaKind
    content_type: str


def media_kind(filename: str, content_type: str = "", head: bytes = b"") -> MediaKind:
    """The kind of an output, from its bytes' magic first, then content type, then extension."""
    sniffed = _sniff(head)
    if sniffed:
        return sniffed
    major = content_type.split("/", 1)[0].lower()
    if major in ("image", "video", "audio", "text"):
        return major  # type: ignore[return-value]
    if content_type.lower() == "application/json":
        return "text"
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return EXTENSION_KINDS.get(ext, "other")


def _sniff(head: bytes) -> MediaKind | None:
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM")):
        return "image"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio"
    if head.startswith((b"fLaC", b"OggS", b"ID3")):
        return "audio"
    if head[4:8] == b"ftyp":
        return "audio" if head[8:11] == b"M4A" else "video"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video"
    return None


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


_WINDOWS_RESERVED = {
    "CON",
    "PRN",
    "AUX",
    "NUL",
    *(f"COM{i}" for i in range(10)),
    *(f"LPT{i}" for i in range(10)),
}


def save_output(
    output: FileOutput, directory: str | Path, http: httpx.Client | None = None
) -> SavedOutput:
    """Write one output into `directory` under a safe, new name (never overwriting): decoded
    from `data`, or streamed from its `filepath` link. A failed download leaves no file."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    name = safe_filename(output.filename)
    if "." not in name:
        ext = mimetypes.guess_extension(output.content_type.split(";")[0].strip()) or ""
        name += ext
    path, handle = unique_file(directory, name)
    sink = _HeadRecorder(handle)
    try:
        with handle:
            if not output.body and output.filepath:
                stream_to(output.filepath, sink, output.filename, http)
            else:
                _decode_into(output, sink)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    kind = media_kind(output.filename, output.content_type, sink.head)
    return SavedOutput(path=path, kind=kind, content_type=output.content_type)


def save_outputs(result: PromptResult, directory: str | Path) -> list[Path]:
    """Write every output of `result` into `directory`; returns the paths, in output order."""
    if not any(o.filepath and not o.body for o in result.outputs):
        return [save_output(output, directory).path for output in result.outputs]
    with storage_client() as http:
        return [save_output(output, directory, http).path for output in result.outputs]


B64_CHUNK = 4 << 20  # base64 characters decoded at a time (a multiple of 4)


def _decode_into(output: FileOutput, sink: BinaryIO) -> None:
    data = output.body
    if isinstance(data, bytes):  # decoded on arrival
        sink.write(data)
        return
    try:
        for start in range(0, len(data), B64_CHUNK):
            sink.write(binascii.a2b_base64(data[start : start + B64_CHUNK], strict_mode=True))
    except (binascii.Error, ValueError) as exc:
        raise MalformedResultError(
            f"output {output.filename!r} is not valid base64; the server sent a broken result"
        ) from exc


class _HeadRecorder:
    """A file wrapper that keeps the first bytes written (to sniff the media kind)."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self.head = b""

    def write(self, chunk: bytes) -> int:
        if len(self.head) < 16:
            self.head += chunk[: 16 - len(self.head)]
        return self._handle.write(chunk)


# --- unique names ----------------------------------------------------------------------------

_MAX_REMEMBERED = 16384  # (directory, name) pairs; the oldest are forgotten (then re-probed)
_next_suffix: OrderedDict[tuple[str, str], int] = OrderedDict()  # (directory, name) -> next n
_lock = threading.Lock()


def unique_file(directory: Path, name: str) -> tuple[Path, BinaryIO]:
    """Create a new file in `directory` named `name`, else `stem_1.ext`, `stem_2.ext`, ...;
    returns its path and the open handle. Never overwrites (``open("xb")``), and remembers the
    next free suffix per name, so saving n files with one name costs O(1) each, not O(n)."""
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    key = (os.fspath(directory.resolve()), name)
    with _lock:
        n = _next_suffix.pop(key, 0)
        while True:
            path = directory / (name if n == 0 else f"{stem}_{n}{dot}{ext}")
            try:
                handle = path.open("xb")  # "x": fails if it exists, so never overwrites
            except FileExistsError:
                n += 1
                continue
            _next_suffix[key] = n + 1
            while len(_next_suffix) > _MAX_REMEMBERED:
                _next_suffix.popitem(last=False)
            return path, handle
