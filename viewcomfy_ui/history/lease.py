"""Which apps sharing a history are still alive: one locked file per store, held while it lives.

Each store takes an exclusive lock on ``live/<token>.lock`` and keeps it until it is collected or
its process ends, however it ends (``kill -9`` too): the operating system drops the lock. Its runs
carry its token, so a run left "running" under a token whose lock anyone can take again belongs
to an app that is gone. Several processes may share one database; none mistakes another's live
runs for dead ones.
"""

from __future__ import annotations

import os
import secrets
import weakref
from pathlib import Path

if os.name == "nt":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:  # flock: per open file, so a second store in the same process conflicts too
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True


SUFFIX = ".lock"


class Lease:
    """This store's token, held by a locked file in `folder` (raises OSError if it cannot)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.token = secrets.token_hex(16)
        folder.mkdir(parents=True, exist_ok=True)
        # Locked under a temporary name, then renamed: a `.lock` file is never seen unlocked
        # while its owner lives (a sweep would take it for a dead one's).
        pending = folder / f"{self.token}.pending"
        fd = os.open(pending, os.O_RDWR | os.O_CREAT, 0o600)
        weakref.finalize(self, os.close, fd)
        if not _try_lock(fd):
            raise OSError(f"cannot lock {pending}")
        os.replace(pending, self._path(self.token))

    def _path(self, token: str) -> Path:
        return self.folder / f"{token}{SUFFIX}"

    def alive(self, token: str) -> bool:
        """Whether the store that wrote `token` still holds its lease (False for no token)."""
        if token == self.token:
            return True
        if not token.isalnum():
            return False
        try:
            fd = os.open(self._path(token), os.O_RDWR)
        except OSError:  # no lock file: gone (or an old release that wrote none)
            return False
        try:
            return not _try_lock(fd)
        finally:
            os.close(fd)

    def forget(self, token: str) -> None:
        """Remove a dead store's lock file."""
        if token.isalnum() and token != self.token:
            self._path(token).unlink(missing_ok=True)

    def sweep(self) -> None:
        """Remove the lock files of stores that are gone (they end without cleaning up)."""
        for path in self.folder.glob(f"*{SUFFIX}"):
            token = path.name.removesuffix(SUFFIX)
            if not self.alive(token):
                self.forget(token)
