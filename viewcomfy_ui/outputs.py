"""Output files: what kind of media each is, and saving them under safe, unique names.

Server-given filenames are hostile input: only their last path component survives, cleaned of
control and reserved characters, and an existing file is never overwritten.
"""

from __future__ import annotations

import mimetypes
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Literal

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


def save_output(output: FileOutput, directory: str | Path) -> SavedOutput:
    """Write one output into `directory` under a safe, new name (never overwriting)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    content = output.content()
    kind = media_kind(output.filename, output.content_type, content[:16])
    name = safe_filename(output.filename)
    if "." not in name:
        ext = mimetypes.guess_extension(output.content_type.split(";")[0].strip()) or ""
        name += ext
    path = _create_unique(directory, name, content)
    return SavedOutput(path=path, kind=kind, content_type=output.content_type)


def save_outputs(result: PromptResult, directory: str | Path) -> list[Path]:
    """Write every output of `result` into `directory`; returns the paths, in output order."""
    return [save_output(output, directory).path for output in result.outputs]


def _create_unique(directory: Path, name: str, content: bytes) -> Path:
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    for n in range(10_000):
        candidate = name if n == 0 else f"{stem}_{n}{dot}{ext}"
        path = directory / candidate
        try:
            with path.open("xb") as handle:  # "x": fails if it exists, so never overwrites
                handle.write(content)
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"too many files named like {name!r} in {directory}")
