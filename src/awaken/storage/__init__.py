"""Storage behind one Protocol (`protocol.Store`): SQLite (one process, the default) and
PostgreSQL (any number of nodes sharing one database)."""

from __future__ import annotations

from awaken.storage.lifecycle.store import DEFAULT_LEASE_MS
from awaken.storage.protocol import Store


def open_store(
    url: str,
    *,
    synchronous: str = "full",
    migrate: bool = True,
    node_id: str | None = None,
    lease_ms: int = DEFAULT_LEASE_MS,
) -> Store:
    """A store for a `--db` URL: `sqlite:///path` (default `sqlite:///awaken.db`) or
    `postgresql://user@host:5432/database` (also `postgres://`)."""
    if url.startswith("sqlite://"):
        from awaken.storage.sqlite.store import SqliteStore

        path = url[len("sqlite://") :]
        path = path[1:] if path.startswith("/") else path
        return SqliteStore(
            path or "awaken.db", synchronous=synchronous, migrate=migrate, node_id=node_id, lease_ms=lease_ms
        )
    if url.startswith(("postgresql://", "postgres://")):
        from awaken.storage.postgres.store import PostgresStore

        return PostgresStore(url, migrate=migrate, node_id=node_id, lease_ms=lease_ms)
    raise ValueError(
        f"unsupported database URL {url!r}: expected sqlite:///path or postgresql://user@host:port/database"
    )
