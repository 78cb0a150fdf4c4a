"""Applying the PostgreSQL dialect's migrations: one node at a time (an advisory lock), each
migration in its own transaction. A database that does not exist yet is created first."""

from __future__ import annotations

import asyncpg

from awaken.storage.postgres.tx import QUERIES
from awaken.storage.sql import load_migrations

PACKAGE = "awaken.storage.postgres"


def latest_version() -> int:
    return max((m.version for m in load_migrations(PACKAGE)), default=0)


async def schema_version(conn: asyncpg.Connection) -> int:
    """The highest migration applied (0 for a new database)."""
    exists = await conn.fetchval("SELECT to_regclass('awaken_schema_migrations') IS NOT NULL")
    if not exists:
        return 0
    return int(await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM awaken_schema_migrations"))


async def apply_migrations(conn: asyncpg.Connection) -> list[int]:
    """Apply the migrations not yet recorded, under the migration lock. Returns those applied."""
    applied_now: list[int] = []
    await conn.execute(QUERIES["migration_lock"].sql)
    try:
        await conn.execute(QUERIES["create_migrations_table"].sql)
        applied = {int(r[0]) for r in await conn.fetch(QUERIES["applied_migrations"].sql)}
        for migration in load_migrations(PACKAGE):
            if migration.version in applied:
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                record = QUERIES["record_migration"]
                await conn.execute(
                    record.sql, *record.args({"version": migration.version, "name": migration.name})
                )
            applied_now.append(migration.version)
    finally:
        await conn.execute(QUERIES["migration_unlock"].sql)
    return applied_now
