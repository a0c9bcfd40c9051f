"""The local server's settings."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..workflow import ApiWorkflow
from .engine import Engine

DEFAULT_MAX_UPLOAD = 50 * 1024 * 1024
DEFAULT_MAX_TEXT = 16 * 1024 * 1024
DEFAULT_LINK_TTL = 3600.0
DEFAULT_MAX_KEPT_RUNS = 1000
DEFAULT_MAX_BODY_SECONDS = 300.0
DEFAULT_MAX_CLIENT_STORAGE = 2 * 1024**3
DEFAULT_ORPHAN_TIMEOUT = 600.0


@dataclass(frozen=True)
class ServerConfig:
    """`workflow` is the deployed workflow (a request may override it with `workflow_api`);
    `input_dir` holds files the workflow names; keys, when set, are required on every request.
    Each upload may have `max_upload_bytes`, all text fields together `max_text_bytes`; at most
    `max_active_runs` runs are in progress at once.

    Realtime API: output links expire `link_ttl` seconds after the run ends (their files are then
    deleted); at most `max_kept_runs` finished runs are remembered for the results endpoint.
    `clock` (wall-clock seconds) is the time seam for expiry; `work_dir` holds the runs' files.
    A request body must arrive in full within `max_body_seconds` (else 408). The stored outputs
    of one client (its `client_id`) take at most `max_client_storage_bytes` of disk. The runs of
    a socket that went away go on for `orphan_timeout` seconds, for a new socket to re-subscribe
    to them; then they are cancelled.
    """

    engine: Engine
    workflow: ApiWorkflow | None = None
    input_dir: Path | None = None
    client_id: str | None = None
    client_secret: str | None = None
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD
    max_text_bytes: int = DEFAULT_MAX_TEXT
    link_ttl: float = DEFAULT_LINK_TTL
    max_kept_runs: int = DEFAULT_MAX_KEPT_RUNS
    max_active_runs: int = 64
    clock: Callable[[], float] = time.time
    work_dir: Path | None = None
    max_body_seconds: float = DEFAULT_MAX_BODY_SECONDS
    max_client_storage_bytes: int = DEFAULT_MAX_CLIENT_STORAGE
    orphan_timeout: float = DEFAULT_ORPHAN_TIMEOUT  # realtime: a dropped socket's runs go on

    def new_folder(self, kind: str) -> Path:
        """A fresh private folder for one run's uploads (`kind` "run") or outputs ("outputs"),
        under `work_dir` (default: the system's temporary folder)."""
        return Path(tempfile.mkdtemp(prefix=f"viewcomfy-{kind}-", dir=self.work_dir))

    @property
    def max_body_bytes(self) -> int:
        """A whole request: up to 8 uploads at their limit plus the text fields."""
        return 8 * self.max_upload_bytes + self.max_text_bytes

    @property
    def needs_keys(self) -> bool:
        return bool(self.client_id or self.client_secret)
