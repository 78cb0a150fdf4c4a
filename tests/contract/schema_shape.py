"""The structure of a database schema (tables, columns, types, indexes), to compare the schema
that migrations produce with the dialect's schema.sql without comparing SQL text."""

from __future__ import annotations

import re
import sqlite3
from typing import Any


def _where(sql: str | None) -> str:
    match = re.search(r"\bWHERE\b(.*)$", sql or "", re.IGNORECASE | re.DOTALL)
    return re.sub(r"\s+", " ", match.group(1)).strip().rstrip(";") if match else ""


def sqlite_shape(conn: sqlite3.Connection) -> dict[str, Any]:
    tables: dict[str, Any] = {}
    names = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
    ).fetchall()
    for table, sql in names:
        columns = [
            (name, ctype.upper(), bool(notnull), dflt, pk)
            for _, name, ctype, notnull, dflt, pk, _hidden in conn.execute(f"PRAGMA table_xinfo({table})")
        ]
        indexes = {}
        for _, index, unique, origin, partial in conn.execute(f"PRAGMA index_list({table})"):
            if origin == "pk":
                continue
            cols = [r[2] for r in conn.execute(f"PRAGMA index_info({index})")]
            index_sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (index,)).fetchone()[0]
            indexes[index] = (tuple(cols), bool(unique), _where(index_sql) if partial else "")
        without_rowid = "WITHOUT ROWID" in re.sub(r"\s+", " ", sql).upper()
        tables[table] = {"columns": columns, "indexes": indexes, "without_rowid": without_rowid}
    return tables
