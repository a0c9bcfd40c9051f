"""A run's files (uploads and outputs) beside the database: ``files/<run id>/<role>/<name>``.

Run ids are random (128 bits), names are made safe, and every lookup is confined to the run's
own folder, so no path from outside (a visitor, a server-given name) reaches another file.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..paths import find_inside, safe_filename, unique_file

Role = Literal["upload", "output"]


@dataclass(frozen=True)
class StoredFile:
    """One kept file: where it is relative to its run's folder, its kind and size."""

    role: Role
    name: str  # relative to the run's folder: "<role>/<safe name>"
    kind: str
    size: int
    field: str = ""  # an upload's field key


class RunFiles:
    """The folder tree of kept files, one sub-folder per run."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def folder(self, run_id: str) -> Path:
        if not run_id.isalnum():  # ids are hex; anything else is not one of ours
            raise ValueError(f"not a run id: {run_id[:40]!r}")
        return self.root / run_id

    def keep(self, run_id: str, role: Role, source: Path, kind: str, field: str = "") -> StoredFile:
        """Keep `source` for the run (a hard link when possible, else a copy)."""
        directory = self.folder(run_id) / role
        directory.mkdir(parents=True, exist_ok=True)
        target, handle = unique_file(directory, safe_filename(source.name))
        handle.close()
        target.unlink()
        try:
            os.link(source, target)
        except OSError:  # another file system, or no hard links there
            shutil.copyfile(source, target)
        return StoredFile(role, f"{role}/{target.name}", kind, target.stat().st_size, field)

    def path(self, run_id: str, name: str) -> Path | None:
        """The kept file `name` of the run, or None (never a path outside its folder)."""
        try:
            return find_inside(self.folder(run_id), name)
        except ValueError:
            return None

    def remove(self, run_id: str) -> None:
        shutil.rmtree(self.folder(run_id), ignore_errors=True)
