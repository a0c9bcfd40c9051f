"""Runs of the realtime API and their stored outputs, served by unguessable, expiring links.

Like presigned object-storage links: anyone with the link can download the file without keys
until it expires (then 403). Each run's files sit in their own temporary folder under names the
server makes (``0``, ``1``, ...), so no name from a workflow or a URL ever becomes a path. Memory
and disk are bounded: a finished run's files are deleted when its links expire, its record is
forgotten one TTL later, and at most `max_kept` finished runs are remembered (least recently used
go first). Each client (by `client_id`) has `max_client_bytes` of disk for its stored outputs:
a new run's outputs expire the client's oldest ones early, and a run whose outputs alone do not
fit is an error saying so. Other clients' outputs are never touched.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..errors import ViewComfyError
from ..models import FileOutput, PromptResult
from ..paths import safe_filename
from ..workflow import ApiWorkflow
from .nodes import OutputFile
from .run import Run

OUTPUTS_PER_PIECE = 512
DISK_BLOCK = 4096


@dataclass
class StoredOutput:
    filename: str
    content_type: str
    size: int
    token: str
    path: Path


@dataclass
class PromptRecord:
    """What the results endpoint and the result event say about one run."""

    prompt_id: str
    client_id: str | None
    prompt: ApiWorkflow
    workflow: dict[str, Any]
    base_url: str
    created_at: float
    run: Run | None
    status: str = "running"
    completed: bool = False
    execution_time_seconds: float = 0.0
    error_data: dict[str, str] | None = None  # models.Failure.to_json()
    outputs: list[StoredOutput] = field(default_factory=list)
    folder: Path | None = None
    expires_at: float | None = None
    disk_bytes: int = 0  # what its stored outputs take, counted against its client's share
    expired_early: str | None = None  # why its links expired before their time

    def link(self, output: StoredOutput) -> str:
        return output_link(self.base_url, output)

    def result(self) -> dict[str, Any]:
        """The `infer_result_message` payload: exactly ViewComfy's PromptResult arguments."""
        return self._model().to_json()

    def entry(self) -> ResultEntry:
        """This run as the results endpoint lists it, taken now (on the event loop); its JSON
        is written later, off the loop, by `results_json`."""
        head = PromptResult(
            prompt_id=self.prompt_id,
            status=self.status,
            completed=self.completed,
            execution_time_seconds=self.execution_time_seconds,
            prompt=self.prompt,
            error_data=self.error_data,
        ).to_camel(
            created_at=datetime.fromtimestamp(self.created_at, UTC).isoformat(),
            workflow=self.workflow,
            client_id=self.client_id,
        )
        del head["outputs"]
        return ResultEntry(head, self.base_url, self.outputs)

    def _model(self) -> PromptResult:
        return PromptResult(
            prompt_id=self.prompt_id,
            status=self.status,
            completed=self.completed,
            execution_time_seconds=self.execution_time_seconds,
            prompt=self.prompt,
            outputs=[
                FileOutput(o.filename, o.content_type, size=o.size, filepath=self.link(o))
                for o in self.outputs
            ],
            error_data=self.error_data,
        )


@dataclass(frozen=True)
class ResultEntry:
    """One run of the results list: every camelCase key but `outputs`, and its outputs."""

    head: dict[str, Any]
    base_url: str
    outputs: list[StoredOutput]  # never changed once stored: read off the loop


def output_link(base_url: str, output: StoredOutput) -> str:
    return f"{base_url}outputs/{output.token}/{quote(output.filename)}"


def results_json(entries: list[ResultEntry]) -> Iterator[bytes]:
    """The results endpoint's JSON list (ViewComfy's shape), written a piece at a time: a run
    with 200,000 outputs never becomes one string, and each piece is quick to make."""
    yield b"["
    for index, entry in enumerate(entries):
        head = _dumps(entry.head)
        yield (b"," if index else b"") + head[:-1].encode() + b',"outputs":['
        for start in range(0, len(entry.outputs), OUTPUTS_PER_PIECE):
            piece = entry.outputs[start : start + OUTPUTS_PER_PIECE]
            text = ",".join(
                _dumps({"filename": o.filename, "contentType": o.content_type, "size": o.size,
                        "filepath": output_link(entry.base_url, o)})
                for o in piece
            )  # fmt: skip
            yield (b"," if start else b"") + text.encode()
        yield b"]}"
    yield b"]"


def _dumps(value: Any) -> str:
    """JSON as Starlette's JSONResponse writes it."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


class LinkExpired(ViewComfyError):
    """The link existed but its time is up (its file is gone); the message says why."""


class StorageRefused(ViewComfyError):
    """A run's outputs do not fit in its client's share of disk."""


class RunStore:
    """Runs by prompt id, and output links by token; see the module docstring for the bounds."""

    def __init__(
        self,
        ttl: float,
        max_kept: int,
        clock: Callable[[], float],
        new_folder: Callable[[], Path],
        max_client_bytes: int,
    ) -> None:
        self.ttl, self.max_kept, self.clock, self.new_folder = ttl, max_kept, clock, new_folder
        self.max_client_bytes = max_client_bytes
        self._runs: OrderedDict[str, PromptRecord] = OrderedDict()
        self._links: dict[str, tuple[PromptRecord, StoredOutput]] = {}
        self._client_bytes: dict[str | None, int] = {}

    def add(self, record: PromptRecord) -> bool:
        """Remember a new run; False if its prompt id is already known."""
        self.sweep()
        if record.prompt_id in self._runs:
            return False
        self._runs[record.prompt_id] = record
        return True

    def get(self, prompt_id: str) -> PromptRecord | None:
        self.sweep()
        record = self._runs.get(prompt_id)
        if record is not None:
            self._runs.move_to_end(prompt_id)
        return record

    def entries(self, prompt_ids: list[str]) -> list[ResultEntry]:
        """The known runs among `prompt_ids`, as the results endpoint lists them."""
        self.sweep()
        found = [self._runs.get(prompt_id) for prompt_id in prompt_ids]
        return [record.entry() for record in found if record is not None]

    def running(self) -> list[PromptRecord]:
        return [r for r in self._runs.values() if not r.completed]

    async def finish(self, record: PromptRecord, outputs: list[OutputFile]) -> None:
        """Write `outputs` to the run's own folder (off the event loop) and give them links,
        within the client's share of disk; raises StorageRefused if they cannot fit."""
        self._reserve(record, sum(disk_size(len(o.data)) for o in outputs))
        try:
            stored = await asyncio.to_thread(_write, outputs, self.new_folder)
        except BaseException:
            self._release(record)
            raise
        record.folder, record.outputs = stored
        for output in record.outputs:
            self._links[output.token] = (record, output)
        self.ended(record)

    def _reserve(self, record: PromptRecord, need: int) -> None:
        """Count `need` bytes against the client's share, expiring its oldest stored outputs
        first if they are in the way."""
        client, limit = record.client_id, self.max_client_bytes
        if need > limit:
            raise StorageRefused(
                f"the run's outputs take {_mib(need)}; this server keeps at most {_mib(limit)} "
                "of outputs per client: make fewer or smaller outputs"
            )
        stored = sorted(
            (r for r in self._runs.values() if r.client_id == client and r.folder is not None),
            key=lambda r: r.expires_at or 0.0,
        )
        for oldest in stored:
            if self._client_bytes.get(client, 0) + need <= limit:
                break
            oldest.expired_early = (
                f"this link has expired early: its client's stored outputs reached this "
                f"server's limit of {_mib(limit)}, so the oldest were removed"
            )
            self._delete_files(oldest)
        used = self._client_bytes.get(client, 0)
        if used + need > limit:
            raise StorageRefused(
                f"the run's outputs take {_mib(need)}, and this client's runs being stored take "
                f"{_mib(used)} of its {_mib(limit)}: try again when they are stored"
            )
        self._client_bytes[client] = used + need
        record.disk_bytes = need

    def _release(self, record: PromptRecord) -> None:
        left = self._client_bytes.get(record.client_id, 0) - record.disk_bytes
        if left > 0:
            self._client_bytes[record.client_id] = left
        else:
            self._client_bytes.pop(record.client_id, None)
        record.disk_bytes = 0

    def ended(self, record: PromptRecord) -> None:
        record.completed, record.run = True, None
        record.expires_at = self.clock() + self.ttl
        self.sweep()

    def file(self, token: str) -> StoredOutput | None:
        """The output behind a link; raises LinkExpired once its time is up."""
        self.sweep()
        found = self._links.get(token)
        if found is None:
            return None
        record, output = found
        if record.folder is None:
            raise LinkExpired(record.expired_early or "this link has expired")
        return output

    def sweep(self) -> None:
        """Delete expired files, forget old records, and keep at most `max_kept` finished runs."""
        now = self.clock()
        finished = [r for r in self._runs.values() if r.completed]
        excess = len(finished) - self.max_kept
        for record in finished:
            assert record.expires_at is not None
            if now >= record.expires_at:
                self._delete_files(record)
            if excess > 0 or now >= record.expires_at + self.ttl:
                self._forget(record)
                excess -= 1

    def close(self) -> None:
        for record in list(self._runs.values()):
            self._forget(record)

    def _delete_files(self, record: PromptRecord) -> None:
        if record.folder is not None:
            shutil.rmtree(record.folder, ignore_errors=True)
            record.folder = None
        self._release(record)

    def _forget(self, record: PromptRecord) -> None:
        self._delete_files(record)
        for output in record.outputs:
            self._links.pop(output.token, None)
        self._runs.pop(record.prompt_id, None)


def disk_size(size: int) -> int:
    """The disk a file of `size` bytes takes: whole 4 KiB blocks, at least one (so a million
    empty files count as what they cost)."""
    return max(1, -(-size // DISK_BLOCK)) * DISK_BLOCK


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB" if size >= 2**20 else f"{size / 1024:g} KiB"


def _write(
    outputs: list[OutputFile], new_folder: Callable[[], Path]
) -> tuple[Path | None, list[StoredOutput]]:
    if not outputs:
        return None, []
    folder = new_folder()
    stored = []
    for index, output in enumerate(outputs):
        path = folder / str(index)
        path.write_bytes(output.data)
        name = safe_filename(output.filename)
        token = secrets.token_urlsafe(32)
        stored.append(StoredOutput(name, output.content_type, len(output.data), token, path))
    return folder, stored
