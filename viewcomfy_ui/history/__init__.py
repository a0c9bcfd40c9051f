"""Run history that lasts: a SQLite store (records, migrations, pruning) with files beside it."""

from .store import HistoryStore, RunRecord, StoredFile, owner_key

__all__ = ["HistoryStore", "RunRecord", "StoredFile", "owner_key"]
