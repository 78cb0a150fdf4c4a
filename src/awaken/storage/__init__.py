"""Storage behind one Protocol (`protocol.Store`): SQLite (one process, the default) and
PostgreSQL (any number of nodes sharing one database)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from awaken.storage.lifecycle.store import DEFAULT_LEASE_MS
from awaken.storage.protocol import Store

__all__ = ["DEFAULT_LEASE_MS", "Store", "open_store", "redact_url"]


def redact_url(url: str) -> str:
    """The URL with its password (if any) replaced by ***, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")))


def open_store(
    url: str,
    *,
    synchronous: str = "full",
    migrate: bool = True,
    node_id: str | None = None,
    lease_ms: int = DEFAULT_LEASE_MS,
    busy_timeout: float | None = None,
) -> Store:
    """A store for a `--db` URL: `sqlite:///path` (default `sqlite:///awaken.db`) or
    `postgresql://user@host:5432/database` (also `postgres://`)."""
    if url.startswith("sqlite://"):
        from awaken.storage.sqlite.store import SqliteStore

        path = url[len("sqlite://") :]
        path = path[1:] if path.startswith("/") else path
        extra = {} if busy_timeout is None else {"busy_timeout": busy_timeout}
        return SqliteStore(
            path or "awaken.db",
            synchronous=synchronous,
            migrate=migrate,
            node_id=node_id,
            lease_ms=lease_ms,
            **extra,
        )
    if url.startswith(("postgresql://", "postgres://")):
        from awaken.storage.postgres.store import PostgresStore

        return PostgresStore(url, migrate=migrate, node_id=node_id, lease_ms=lease_ms)
    raise ValueError(
        f"unsupported database URL {url!r}: expected sqlite:///path or postgresql://user@host:port/database"
    )
