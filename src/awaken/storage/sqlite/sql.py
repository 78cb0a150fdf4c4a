"""The store's SQL, loaded from the package's .sql files (no SQL lives in .py files)."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from importlib.resources import files

_PACKAGE = "awaken.storage.sqlite"
_NAME_LINE = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$")
_MIGRATION_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


def parse_queries(text: str) -> dict[str, str]:
    """Split a file of `-- name: NAME` sections into {NAME: statement}."""
    queries: dict[str, str] = {}
    name: str | None = None
    lines: list[str] = []

    def flush() -> None:
        if name is not None:
            statement = "\n".join(lines).strip().rstrip(";").strip()
            if not statement:
                raise ValueError(f"query {name!r} is empty")
            queries[name] = statement

    for line in text.splitlines():
        match = _NAME_LINE.match(line.strip())
        if match:
            flush()
            name = match.group(1)
            if name in queries:
                raise ValueError(f"query {name!r} is defined twice")
            lines = []
        elif name is not None:
            lines.append(line)
    flush()
    return queries


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


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations() -> list[Migration]:
    """The numbered files of migrations/, in order."""
    out: list[Migration] = []
    for item in files(_PACKAGE).joinpath("migrations").iterdir():
        match = _MIGRATION_FILE.match(item.name)
        if match:
            out.append(Migration(int(match.group(1)), match.group(2), item.read_text("utf-8")))
    out.sort(key=lambda m: m.version)
    versions = [m.version for m in out]
    if len(set(versions)) != len(versions):
        raise ValueError(f"duplicate migration versions: {versions}")
    return out


def load_schema() -> str:
    """The full current schema (schema.sql)."""
    return files(_PACKAGE).joinpath("schema.sql").read_text("utf-8")


QUERIES: dict[str, str] = parse_queries(files(_PACKAGE).joinpath("queries.sql").read_text("utf-8"))


def apply_migrations(conn: sqlite3.Connection) -> list[int]:
    """Apply the migrations not yet recorded in schema_migrations, each in its own transaction.
    `conn` must be in autocommit mode (isolation_level=None). Returns the versions applied."""
    conn.execute(QUERIES["create_migrations_table"])
    applied_now: list[int] = []
    for migration in load_migrations():
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
