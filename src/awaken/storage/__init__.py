"""Storage behind one Protocol (`protocol.Store`); SQLite now, PostgreSQL next."""

from __future__ import annotations

from awaken.storage.protocol import Store


def open_store(url: str, *, synchronous: str = "full") -> Store:
    """A store for a `--db` URL: `sqlite:///path` (default `sqlite:///awaken.db`)."""
    if url.startswith("sqlite://"):
        from awaken.storage.sqlite.store import SqliteStore

        path = url[len("sqlite://") :]
        path = path[1:] if path.startswith("/") else path
        return SqliteStore(path or "awaken.db", synchronous=synchronous)
    raise ValueError(f"unsupported database URL {url!r}: expected sqlite:///path")
