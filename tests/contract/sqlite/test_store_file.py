"""The SQLite store's own behaviour: options, one process per file, its query files."""

from __future__ import annotations

import sqlite3

import pytest

from awaken.errors import StorageError
from awaken.storage.sql import parameters, parse_queries
from awaken.storage.sqlite import SqliteStore
from awaken.storage.sqlite.migrate import latest_version, split_statements
from awaken.storage.sqlite.tx import QUERIES


async def test_store_options() -> None:
    with pytest.raises(ValueError):
        SqliteStore("x.db", synchronous="off")
    with pytest.raises(ValueError):
        SqliteStore(":memory:")
    with pytest.raises(StorageError):
        await SqliteStore("never-opened.db").get_invocation("x")


def test_queries_parse() -> None:
    assert QUERIES["get_invocation"].startswith("SELECT")
    assert not any(q.rstrip().endswith(";") for q in QUERIES.values())
    assert parse_queries("-- name: a\nSELECT 1;\n\n-- name: b\n-- comment\nSELECT 2\n") == {
        "a": "SELECT 1",
        "b": "SELECT 2",  # comment lines are dropped
    }
    with pytest.raises(ValueError):
        parse_queries("-- name: a\nSELECT 1\n-- name: a\nSELECT 2\n")
    assert split_statements("-- c\nCREATE TABLE a (x);\nCREATE TABLE b (\n y\n);\n-- end\n") == [
        "-- c\nCREATE TABLE a (x);",
        "CREATE TABLE b (\n y\n);",
    ]


async def test_one_store_per_file(db_path: str) -> None:
    first = SqliteStore(db_path)
    await first.open()
    try:
        with pytest.raises(StorageError, match="in use by another awaken process"):
            await SqliteStore(db_path).open()
    finally:
        await first.close()
    again = SqliteStore(db_path)
    await again.open()  # the lock went with close()
    await again.close()


async def test_the_file_records_every_migration_and_stays_in_wal_mode(
    store: SqliteStore, db_path: str
) -> None:
    import sqlite3

    with sqlite3.connect(db_path) as conn:
        versions = [v for (v,) in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
        assert versions == list(range(1, latest_version() + 1)) and len(versions) >= 7
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_a_page_of_invocations_is_read_from_the_index_without_a_sort(db_path: str) -> None:
    # Newest first, paged by (created_at, id): at 100,000 rows a sort of all of them took 60-120
    # ms per page (the web UI refreshes its list), the index walk ~1 ms.
    store = SqliteStore(db_path)
    await store.open()
    await store.close()
    conn = sqlite3.connect(db_path)
    try:
        sql = QUERIES["list_invocations"]
        for cursor in (None, 1_700_000_000_000):
            params = {name: None for name in parameters(sql)} | {"limit": 50}
            if cursor is not None:
                params |= {"before_created": cursor, "before_id": "inv_x"}
            plan = " | ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params))
            assert "invocations_by_created" in plan and "TEMP B-TREE" not in plan, plan
    finally:
        conn.close()
