"""The SQLite store: one file in WAL mode, a group-committing writer thread, a reader thread."""

from __future__ import annotations

from awaken.storage.sqlite.store import SqliteStore

__all__ = ["SqliteStore"]
