"""The dialects agree: every query the lifecycle rules run exists in both, with parameters the
rules supply, and every statement of both files is valid SQL for its database."""

from __future__ import annotations

import re
import sqlite3
from importlib.resources import files

import asyncpg

from awaken.storage.lifecycle.op import COMPOUND_QUERIES
from awaken.storage.postgres.tx import QUERIES as PG
from awaken.storage.sql import parameters
from awaken.storage.sqlite.tx import QUERIES as SQLITE


def _used_by_rules() -> set[str]:
    used: set[str] = set()
    for item in files("awaken.storage.lifecycle").iterdir():
        if item.name.endswith(".py"):
            text = item.read_text("utf-8")
            used.update(re.findall(r'(?:one|all|run|run_many|scalar)\(\s*"([a-z_0-9]+)"', text))
    return used


def test_every_query_of_the_rules_is_in_both_dialects_with_compatible_parameters() -> None:
    used = _used_by_rules()
    assert len(used) > 50
    assert used >= COMPOUND_QUERIES  # each is used (where its dialect has it)
    assert set(SQLITE) | set(PG) >= COMPOUND_QUERIES
    used -= COMPOUND_QUERIES
    assert used <= set(SQLITE), used - set(SQLITE)
    assert used <= set(PG), used - set(PG)
    # Where one writer makes a lock needless, SQLite's statement takes no parameters at all.
    no_ops = {"lock_promise"}
    assert all(SQLITE[name] == "SELECT 1" for name in no_ops)
    for name in used - no_ops:
        # PostgreSQL may need fewer parameters (a sequence numbers its inbox), never others.
        assert set(PG[name].names) <= set(parameters(SQLITE[name])), name


def test_every_sqlite_statement_compiles(tmp_path: object) -> None:
    from awaken.storage.sql import load_schema

    conn = sqlite3.connect(":memory:")
    conn.executescript(load_schema("awaken.storage.sqlite"))
    for name, sql in SQLITE.items():
        if sql.upper().startswith(("PRAGMA", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")):
            continue
        params = {p: None for p in parameters(sql)}
        conn.execute("EXPLAIN " + sql, params)  # raises on a syntax or schema error
        assert name


async def test_every_postgres_statement_prepares(pg_url: str) -> None:
    from awaken.storage.postgres import PostgresStore

    store = PostgresStore(pg_url)
    await store.open()  # the schema
    await store.close()
    conn = await asyncpg.connect(pg_url)
    try:
        for name, query in PG.items():
            await conn.prepare(query.sql)  # raises on a syntax, type or schema error
            assert name
    finally:
        await conn.close()
