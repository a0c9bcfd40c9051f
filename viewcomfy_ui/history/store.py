"""The history of runs in SQLite: records, owner scoping, retention by size, migrations.

Every query takes an owner token and matches its hash (the token itself is never stored), so no
visitor reaches another's runs. Files live beside the database (`files.RunFiles`).

The store never stops the app: a damaged database is moved aside (kept, not deleted) and a new
one started; any other failure (a full disk, a read-only folder) turns the store off with one
line in `problem`, and the app runs on without history. Threads may write at once: one
connection per thread, WAL journal, writes serialised by a lock.

Several apps may share one database. Each holds a lease (lease.py) that its runs name; on start,
runs left "running" by an app that is gone (killed mid-run) become "interrupted", shown so and
pruned like any ended run.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ViewComfyError
from .files import RunFiles, StoredFile
from .lease import Lease

DB_NAME = "history.sqlite3"
MAX_LOG_LINES = 1000
DAMAGED = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}  # primary result codes of a bad file
REASONS = {
    sqlite3.SQLITE_FULL: "the disk is full",
    sqlite3.SQLITE_READONLY: "the database cannot be written (a read-only file or folder)",
    sqlite3.SQLITE_CANTOPEN: "the database file cannot be opened",
    sqlite3.SQLITE_PERM: "no permission to use the database file",
    sqlite3.SQLITE_BUSY: "another program holds the database locked",
    sqlite3.SQLITE_LOCKED: "another program holds the database locked",
    sqlite3.SQLITE_IOERR: "the disk could not be read or written",
}  # primary result code -> what a user can act on


_V1 = """
CREATE TABLE runs (
    id TEXT PRIMARY KEY, owner TEXT NOT NULL, created REAL NOT NULL,
    workflow_name TEXT NOT NULL, workflow_hash TEXT NOT NULL,
    params TEXT NOT NULL, seeds TEXT NOT NULL,
    protocol TEXT NOT NULL, endpoint TEXT NOT NULL,
    prompt_id TEXT NOT NULL DEFAULT '', status TEXT NOT NULL DEFAULT 'running',
    started REAL, finished REAL, error TEXT NOT NULL DEFAULT '',
    logs TEXT NOT NULL DEFAULT ''
);
CREATE TABLE files (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    role TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL, size INTEGER NOT NULL,
    field TEXT NOT NULL DEFAULT ''
);
"""
_V2 = """
ALTER TABLE runs ADD COLUMN batch TEXT NOT NULL DEFAULT '';
CREATE INDEX runs_owner_created ON runs(owner, created);
CREATE INDEX runs_created ON runs(created);
CREATE INDEX files_run ON files(run_id);
"""
_V3 = """
ALTER TABLE runs DROP COLUMN workflow_hash;
ALTER TABLE runs DROP COLUMN batch;
"""
_V4 = """
ALTER TABLE runs ADD COLUMN process TEXT NOT NULL DEFAULT '';
CREATE INDEX runs_status ON runs(status);
"""
# One SQL script per schema version, applied in order; never edit one that has shipped.
# v2: batches (runs queued together) and the indexes that paging and pruning use.
# v3: drops `workflow_hash` and `batch`, written by every run and never read.
# v4: `process`, the lease token (lease.py) of the app that runs it, so a run left running by an
# app that died is told from one still going.
MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3, _V4)
RUNNING, INTERRUPTED = "running", "interrupted"
SCHEMA_VERSION = len(MIGRATIONS)


def owner_key(token: str) -> str:
    """What the database holds for an owner token: its hash, never the token."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class RunRecord:
    """One run as kept: what was sent, what came back, and its files."""

    id: str
    created: float
    workflow_name: str
    params: dict[str, Any]
    seeds: dict[str, int]
    protocol: str
    endpoint: str
    prompt_id: str = ""
    status: str = RUNNING
    started: float | None = None
    finished: float | None = None
    error: str = ""
    logs: str = ""
    files: list[StoredFile] = field(default_factory=list)

    @property
    def outputs(self) -> list[StoredFile]:
        return [f for f in self.files if f.role == "output"]

    @property
    def uploads(self) -> dict[str, StoredFile]:
        """Upload files by the field they were sent for."""
        return {f.field: f for f in self.files if f.role == "upload"}


class HistoryStore:
    """Runs and their files under `directory`, at most `max_bytes` of files (oldest pruned)."""

    def __init__(
        self, directory: Path, *, max_bytes: int, log: Callable[[str], None] | None = None
    ):
        self.directory = directory
        self.max_bytes = max_bytes
        self.files = RunFiles(directory / "files")
        self.problem: str | None = None
        self._log = log or (lambda line: print(line, file=sys.stderr))
        self._local = threading.local()
        self._write = threading.Lock()
        self._lease: Lease | None = None
        self._open()

    # --- opening ---------------------------------------------------------------------------

    @property
    def path(self) -> Path:
        return self.directory / DB_NAME

    @property
    def enabled(self) -> bool:
        return self.problem is None

    def _open(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            try:
                self._migrate(self._db())
            except sqlite3.DatabaseError as exc:
                if not _damaged(exc):
                    raise
                aside = self._move_aside()
                self._log(
                    f"history: the database {self.path} was damaged ({exc}); it was moved to "
                    f"{aside.name} and a new one started"
                )
                self._migrate(self._db())
            self._lease = Lease(self.directory / "live")
            self._recover()
        except (sqlite3.Error, OSError) as exc:
            self._fail(exc)
        else:
            self.prune()  # runs just marked interrupted may take the history over its size

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA foreign_keys = ON")
            db.execute("PRAGMA busy_timeout = 30000")
            self._local.db = db
        return db

    def _migrate(self, db: sqlite3.Connection) -> None:
        if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise DamagedDatabaseError("its integrity check failed")
        with self._write:
            db.execute("PRAGMA journal_mode = WAL")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise sqlite3.OperationalError(
                    f"schema version {version} is newer than this app's {SCHEMA_VERSION}; "
                    "upgrade viewcomfy-ui or use another --data-dir"
                )
            for number in range(version, SCHEMA_VERSION):
                script = f"BEGIN IMMEDIATE;{MIGRATIONS[number]}PRAGMA user_version = {number + 1};"
                try:
                    db.executescript(script + "COMMIT;")
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise

    def _recover(self) -> None:
        """Runs left running by an app that is gone (killed mid-run) become interrupted, so
        they are shown as such and can be pruned; a live app's runs are left alone."""
        assert self._lease is not None
        db = self._db()
        tokens = [
            row[0]
            for row in db.execute("SELECT DISTINCT process FROM runs WHERE status=?", (RUNNING,))
        ]
        dead = [token for token in tokens if not self._lease.alive(token)]
        if dead:
            with self._transaction() as tx:
                marked = sum(
                    tx.execute(
                        "UPDATE runs SET status=? WHERE status=? AND process=?",
                        (INTERRUPTED, RUNNING, token),
                    ).rowcount
                    for token in dead
                )
            self._log(
                f"history: {marked} run{'s' if marked != 1 else ''} left running by an app that "
                "stopped were marked interrupted"
            )
        self._lease.sweep()

    def _move_aside(self) -> Path:
        self._close_local()
        aside = self.path.with_name(f"{DB_NAME}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        for suffix in ("", "-wal", "-shm"):
            part = Path(f"{self.path}{suffix}")
            if part.exists():
                part.rename(f"{aside}{suffix}")
        return aside

    def _close_local(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    def _fail(self, exc: BaseException) -> None:
        if self.problem is None:
            reason = REASONS.get(_primary_code(exc), str(exc))
            self.problem = f"history is off: {reason} (in {self.directory}); runs still work"
            self._log(self.problem)

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Turn a database or disk failure into `problem` (once) instead of an exception."""
        try:
            yield
        except (sqlite3.Error, OSError) as exc:
            self._fail(exc)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._db()
        with self._write:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise

    # --- writing ---------------------------------------------------------------------------

    def start(
        self,
        owner: str,
        *,
        workflow_name: str,
        params: Mapping[str, Any],
        uploads: Mapping[str, Path],
        seeds: Mapping[str, int],
        protocol: str,
        endpoint: str,
    ) -> str | None:
        """Record a run as it starts (its uploads kept as files); its id, or None if off."""
        if not self.enabled:
            return None
        run_id = secrets.token_hex(16)
        with self._guard():
            kept = [
                self.files.keep(run_id, "upload", Path(path), "upload", key)
                for key, path in uploads.items()
            ]
            with self._transaction() as db:
                db.execute(
                    "INSERT INTO runs (id, owner, created, workflow_name, params, seeds, protocol,"
                    " endpoint, started, process) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (
                        run_id, owner_key(owner), time.time(), workflow_name,
                        json.dumps(dict(params), default=str), json.dumps(dict(seeds)),
                        protocol, endpoint, time.time(), self._lease_token,
                    ),
                )  # fmt: skip
                self._insert_files(db, run_id, kept)
            return run_id
        self.files.remove(run_id)
        return None

    def finish(
        self,
        owner: str,
        run_id: str | None,
        *,
        status: str,
        prompt_id: str = "",
        error: str = "",
        logs: Sequence[str] = (),
        outputs: Sequence[tuple[Path, str]] = (),
    ) -> None:
        """Record how the run ended and keep its outputs ((path, kind) pairs); then prune."""
        if run_id is None or not self.enabled:
            return
        with self._guard():
            if self.get(owner, run_id) is None:
                return
            kept = [self.files.keep(run_id, "output", Path(p), kind) for p, kind in outputs]
            with self._transaction() as db:
                db.execute(
                    "UPDATE runs SET status=?, prompt_id=?, error=?, logs=?, finished=? "
                    "WHERE id=? AND owner=?",
                    (
                        status, prompt_id, error, "\n".join(list(logs)[-MAX_LOG_LINES:]),
                        time.time(), run_id, owner_key(owner),
                    ),
                )  # fmt: skip
                self._insert_files(db, run_id, kept)
            self.prune()

    @staticmethod
    def _insert_files(db: sqlite3.Connection, run_id: str, kept: Sequence[StoredFile]) -> None:
        db.executemany(
            "INSERT INTO files (run_id, role, name, kind, size, field) VALUES (?,?,?,?,?,?)",
            [(run_id, f.role, f.name, f.kind, f.size, f.field) for f in kept],
        )

    def delete(self, owner: str, run_id: str) -> bool:
        """Remove the owner's run and its files; False if it is not theirs (or not there)."""
        if not self.enabled:
            return False
        with self._guard():
            with self._transaction() as db:
                gone = db.execute(
                    "DELETE FROM runs WHERE id=? AND owner=?", (run_id, owner_key(owner))
                ).rowcount
            if gone:
                self.files.remove(run_id)
            return bool(gone)
        return False

    @property
    def _lease_token(self) -> str:
        assert self._lease is not None  # enabled: the store opened with its lease
        return self._lease.token

    def prune(self) -> list[str]:
        """Remove the oldest runs (of anyone) that are not running until the kept files fit in
        `max_bytes`."""
        removed: list[str] = []
        if not self.enabled:
            return removed
        with self._guard():
            db = self._db()
            total = db.execute("SELECT COALESCE(SUM(size), 0) FROM files").fetchone()[0]
            if total <= self.max_bytes:
                return removed
            rows = db.execute(
                "SELECT runs.id, COALESCE(SUM(files.size), 0) FROM runs "
                "LEFT JOIN files ON files.run_id = runs.id "
                "WHERE runs.status != ? GROUP BY runs.id ORDER BY runs.created",
                (RUNNING,),
            ).fetchall()
            for run_id, size in rows:
                if total <= self.max_bytes:
                    break
                with self._transaction() as tx:
                    tx.execute("DELETE FROM runs WHERE id=?", (run_id,))
                self.files.remove(run_id)
                total -= size
                removed.append(run_id)
        return removed

    # --- reading ---------------------------------------------------------------------------

    def count(self, owner: str) -> int:
        if not self.enabled:
            return 0
        with self._guard():
            return (
                self._db()
                .execute("SELECT COUNT(*) FROM runs WHERE owner=?", (owner_key(owner),))
                .fetchone()[0]
            )
        return 0

    def list(self, owner: str, *, offset: int = 0, limit: int = 20) -> list[RunRecord]:
        """The owner's runs, newest first."""
        if not self.enabled:
            return []
        with self._guard():
            rows = (
                self._db()
                .execute(
                    "SELECT * FROM runs WHERE owner=? ORDER BY created DESC, rowid DESC "
                    "LIMIT ? OFFSET ?",
                    (owner_key(owner), limit, offset),
                )
                .fetchall()
            )
            return [self._record(row) for row in rows]
        return []

    def get(self, owner: str, run_id: str) -> RunRecord | None:
        if not self.enabled:
            return None
        with self._guard():
            row = (
                self._db()
                .execute("SELECT * FROM runs WHERE id=? AND owner=?", (run_id, owner_key(owner)))
                .fetchone()
            )
            return self._record(row) if row else None
        return None

    def file(self, owner: str, run_id: str, name: str) -> Path | None:
        """The path of a kept file of the owner's run, or None (not theirs, or not there)."""
        record = self.get(owner, run_id)
        if record is None or name not in {f.name for f in record.files}:
            return None
        return self.files.path(run_id, name)

    def _record(self, row: sqlite3.Row) -> RunRecord:
        files = [
            StoredFile(f["role"], f["name"], f["kind"], f["size"], f["field"])
            for f in self._db().execute(
                "SELECT * FROM files WHERE run_id=? ORDER BY rowid", (row["id"],)
            )
        ]
        return RunRecord(
            id=row["id"], created=row["created"], workflow_name=row["workflow_name"],
            params=json.loads(row["params"]), seeds=json.loads(row["seeds"]),
            protocol=row["protocol"], endpoint=row["endpoint"], prompt_id=row["prompt_id"],
            status=row["status"], started=row["started"], finished=row["finished"],
            error=row["error"], logs=row["logs"], files=files,
        )  # fmt: skip

    def close(self) -> None:
        """Close this thread's connection (others close when their threads end)."""
        self._close_local()


class DamagedDatabaseError(ViewComfyError, sqlite3.DatabaseError):
    """The file opens as SQLite but fails its integrity check."""


def _primary_code(exc: BaseException) -> int | None:
    """SQLite's primary result code of `exc` (extended codes keep it in their low byte)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def _damaged(exc: sqlite3.Error) -> bool:
    """The file is not a (sound) database: move it aside; any other failure turns history off."""
    return isinstance(exc, DamagedDatabaseError) or _primary_code(exc) in DAMAGED
