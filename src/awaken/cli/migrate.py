"""`awaken migrate`: create or upgrade the schema of a database, say which version it reached,
and check a SQLite file's integrity (`PRAGMA integrity_check`): a damaged one is reported, with
what is damaged, and the command fails.

Opening a store migrates it (under a lock: SQLite's write lock, PostgreSQL's advisory lock, so
that nodes starting together take turns); this opens and closes one, and reports what it did.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from awaken.cli.errors import REFUSED, USAGE, CliFailure
from awaken.errors import StorageError
from awaken.storage import open_store, redact_url


@dataclass(frozen=True, slots=True)
class Migrated:
    db: str
    version: int
    applied: list[int]  # versions applied by this run


def redacted(url: str) -> str:
    """A database URL without its password, to print."""
    return redact_url(url)


def migrate(db: str) -> Migrated:
    """Apply the pending migrations of `db`. CliFailure if the URL is bad or the database cannot
    be opened."""
    try:
        store = open_store(db)
    except ValueError as exc:
        raise CliFailure(f"bad database URL: {exc}", USAGE) from None

    async def run() -> Migrated:
        await store.open()
        try:
            check = getattr(store, "check_integrity", None)
            problems: list[str] = await check() if check is not None else []
            if problems:
                shown = "; ".join(problems[:3]) + (
                    f"; ... ({len(problems)} problems)" if len(problems) > 3 else ""
                )
                raise CliFailure(
                    f"the database {redacted(db)} is damaged: {shown}. Restore it from a backup "
                    "(or recover what SQLite can read with `sqlite3 FILE .recover`)",
                    REFUSED,
                )
            return Migrated(db, store.version, list(store.applied))
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except StorageError as exc:
        raise CliFailure(str(exc), REFUSED) from None
