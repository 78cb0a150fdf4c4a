"""`awaken migrate`: create or upgrade the schema of a database, and say which version it reached.

The store migrates when it opens; this opens and closes it, and reads the schema's versions
before and after. The versions are read here (read-only) because the store has no call for it
yet: that belongs to the store, and moves there with the PostgreSQL store.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from awaken.cli.errors import REFUSED, USAGE, CliFailure
from awaken.storage import open_store


@dataclass(frozen=True, slots=True)
class Migrated:
    db: str
    version: int
    applied: list[int]  # versions applied by this run


def redacted(url: str) -> str:
    """A database URL without its password, to print."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return url
    return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}"


def _sqlite_path(url: str) -> Path | None:
    if not url.startswith("sqlite://"):
        return None
    path = url[len("sqlite://") :]
    return Path((path[1:] if path.startswith("/") else path) or "awaken.db")


def _versions(path: Path | None) -> list[int]:
    if path is None or not path.exists():
        return []
    from awaken.storage.sqlite.sql import QUERIES

    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error:
        return []
    try:
        return [int(row[0]) for row in conn.execute(QUERIES["applied_migrations"])]
    except sqlite3.Error:  # no schema_migrations table yet
        return []
    finally:
        conn.close()


def migrate(db: str) -> Migrated:
    """Apply the pending migrations of `db`. CliFailure if the URL is bad or unsupported."""
    try:
        store = open_store(db)
    except ValueError as exc:
        if db.startswith(("postgresql://", "postgres://")):
            raise CliFailure(
                f"{redacted(db)}: PostgreSQL is not supported by this version of awaken yet", REFUSED
            ) from None
        raise CliFailure(f"bad database URL: {exc}", USAGE) from None
    path = _sqlite_path(db)
    before = _versions(path)

    async def run() -> None:
        await store.open()
        await store.close()

    asyncio.run(run())
    after = _versions(path)
    return Migrated(db, max(after, default=0), sorted(set(after) - set(before)))
