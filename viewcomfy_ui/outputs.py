"""Output files: saving them under safe, unique names, with the kind of media each is.

Server-given filenames are hostile input: only their last path component survives, cleaned of
control and reserved characters, and an existing file is never overwritten. Saving is blocking
file work: from async code run it in a thread (`ViewComfyClient.save_outputs` does).
Outputs given as links stream to disk in chunks, without the ViewComfy keys.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import httpx

from .client.storage import storage_client, stream_to
from .errors import MalformedResultError
from .media import MediaKind, extension_for, media_kind
from .models import FileOutput, PromptResult
from .paths import safe_filename, unique_file

__all__ = ["SavedOutput", "media_kind", "safe_filename", "save_output", "save_outputs"]


@dataclass(frozen=True)
class SavedOutput:
    """A saved output: where it is, its kind, and the name the server gave it (which tells
    the node that made it, see `output_pick`)."""

    path: Path
    kind: MediaKind
    content_type: str
    filename: str = ""


def save_output(
    output: FileOutput, directory: str | Path, http: httpx.Client | None = None
) -> SavedOutput:
    """Write one output into `directory` under a safe, new name (never overwriting): decoded
    from `data`, or streamed from its `filepath` link. A failed download leaves no file."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    name = safe_filename(output.filename)
    if "." not in name:
        name += extension_for(output.content_type)
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
    return SavedOutput(
        path=path, kind=kind, content_type=output.content_type, filename=output.filename
    )


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
