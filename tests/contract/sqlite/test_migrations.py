"""Migrations: they produce schema.sql, and each one carries existing data over."""

from __future__ import annotations

import sqlite3
from typing import Any

from awaken.core.journal import Outcome
from awaken.storage.protocol import Complete, Progress
from awaken.storage.sql import load_migrations, load_schema
from awaken.storage.sqlite import SqliteStore
from awaken.storage.sqlite.tx import QUERIES
from tests.contract.schema_shape import sqlite_shape

T0 = 1_000_000


async def test_migrations_yield_schema_sql(db_path: str, tmp_path: Any) -> None:
    store = SqliteStore(db_path)
    await store.open()
    await store.close()
    with sqlite3.connect(db_path) as migrated, sqlite3.connect(str(tmp_path / "schema.db")) as fresh:
        fresh.executescript(load_schema("awaken.storage.sqlite"))
        shape = sqlite_shape(fresh)
        assert sqlite_shape(migrated) == shape
        assert "lease_until" in [c[0] for c in shape["invocations"]["columns"]]
        assert shape["journal"]["without_rowid"]


async def test_migration_3_flags_invocations_that_already_have_waiters(db_path: str) -> None:
    # A database at version 2, with a running invocation that a second caller waits on.
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute(QUERIES["create_migrations_table"])
    for migration in load_migrations("awaken.storage.sqlite")[:2]:
        conn.executescript(migration.sql)
        conn.execute(QUERIES["record_migration"], {"version": migration.version, "name": migration.name})
    for inv, status, epoch in (("target", "running", 1), ("waiter", "suspended", 1)):
        conn.execute(
            "INSERT INTO invocations (id, service, handler, exclusive, status, input, headers, created_at,"
            " modified_at, epoch, retention_ms) VALUES (?, 'S', 'h', 0, ?, x'', '{}', ?, ?, ?, 1000)",
            (inv, status, T0, T0, epoch),
        )
    conn.execute(
        "INSERT INTO journal (invocation_id, idx, kind, name, data) VALUES ('waiter', 0, 'attach', '', '{}')"
    )
    conn.execute("INSERT INTO waiters VALUES ('target', 'waiter', 0)")
    conn.close()

    store = SqliteStore(db_path)
    await store.open()
    try:
        result = await store.commit(Progress("target", 1, T0 + 1, transition=Complete(Outcome(b"7"))))
        [woken] = result.effects.claims  # the waiter was found through the migrated flag
        assert woken.record.id == "waiter" and woken.journal[0].outcome == Outcome(b"7")
    finally:
        await store.close()
