"""The PostgreSQL store: many nodes on one database, group commit on one connection per node,
leases and fencing, and notices between nodes over LISTEN/NOTIFY (asyncpg)."""

from __future__ import annotations

from awaken.storage.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
