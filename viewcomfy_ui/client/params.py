"""Which params are files, and their multipart parts.

Paths are opened only while a request is being sent, and closed after; the caller's own file
objects are left open and carry nothing of ours (httpx reads each part from its start on every
attempt).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from ..errors import ParamsError

FileParam = IO[bytes] | Path | bytes | bytearray
Part = tuple[str, tuple[str, FileParam]]


def is_file_param(value: Any) -> bool:
    """Open binary files, paths and raw bytes are sent as multipart file parts."""
    return isinstance(value, Path | bytes | bytearray | io.IOBase) or (
        hasattr(value, "read") and not isinstance(value, str)
    )


def split_params(params: Mapping[str, Any]) -> tuple[dict[str, Any], list[Part]]:
    """JSON values, and ``(key, (filename, file param))`` for file params (nothing opened)."""
    values: dict[str, Any] = {}
    files: list[Part] = []
    for key, value in params.items():
        if not is_file_param(value):
            values[key] = value
        elif isinstance(value, Path):
            files.append((key, (value.name, value)))
        elif isinstance(value, bytes | bytearray):
            files.append((key, (key, value)))
        else:
            name = Path(str(getattr(value, "name", "") or key)).name
            files.append((key, (name, value)))
    return values, files


class FileParts:
    """The file parts of one request: ``with FileParts(files) as parts: ... parts.parts``."""

    def __init__(self, files: list[Part]) -> None:
        self._files = files
        self._stack = ExitStack()
        self.parts: list[tuple[str, tuple[str, IO[bytes]]]] = []

    def __enter__(self) -> FileParts:
        for key, (name, value) in self._files:
            if isinstance(value, Path):
                try:
                    handle: IO[bytes] = self._stack.enter_context(value.open("rb"))
                except OSError as exc:
                    self._stack.close()
                    raise ParamsError(
                        f"cannot read the file for {key!r} ({exc.strerror or exc}: {value}); "
                        "check the path"
                    ) from exc
            elif isinstance(value, bytes | bytearray):
                handle = io.BytesIO(bytes(value))
            else:
                handle = value
            self.parts.append((key, (name, handle)))
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stack.close()
