"""Applying the SQLite dialect's migrations (each in its own transaction, under the write lock)."""

from __future__ import annotations

import sqlite3

from awaken.storage.sql import load_migrations
from awaken.storage.sqlite.tx import QUERIES

PACKAGE = "awaken.storage.sqlite"


def split_statements(script: str) -> list[str]:
    """Split a script into complete statements (so that they can run inside one transaction)."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip() and not all(
        part.strip().startswith("--") or not part.strip() for part in buffer.splitlines()
    ):
        raise ValueError(f"incomplete SQL statement at the end of the script: {buffer.strip()[:80]!r}")
    return statements


def schema_version(conn: sqlite3.Connection) -> int:
    """The highest migration applied (0 for a new database)."""
    conn.execute(QUERIES["create_migrations_table"])
    applied = [int(r[0]) for r in conn.execute(QUERIES["applied_migrations"])]
    return max(applied, default=0)


def latest_version() -> int:
    return max((m.version for m in load_migrations(PACKAGE)), default=0)


def apply_migrations(conn: sqlite3.Connection) -> list[int]:
    """Apply the migrations not yet recorded in schema_migrations, each in its own transaction.
    `conn` must be in autocommit mode (isolation_level=None). Returns the versions applied."""
    conn.execute(QUERIES["create_migrations_table"])
    applied_now: list[int] = []
    for migration in load_migrations(PACKAGE):
        conn.execute(QUERIES["begin_immediate"])
        try:
            # Re-read inside the write lock: another process may have migrated meanwhile.
            applied = {int(r[0]) for r in conn.execute(QUERIES["applied_migrations"])}
            if migration.version in applied:
                conn.execute(QUERIES["rollback"])
                continue
            for statement in split_statements(migration.sql):
                conn.execute(statement)
            conn.execute(QUERIES["record_migration"], {"version": migration.version, "name": migration.name})
            conn.execute(QUERIES["commit"])
        except BaseException:
            if conn.in_transaction:
                conn.execute(QUERIES["rollback"])
            raise
        applied_now.append(migration.version)
    return applied_now
