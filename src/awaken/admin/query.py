"""`POST /query` of the admin API: SQL over Restate's introspection tables, on any store.

The tables a query names are built from the store's reads (`awaken.admin.introspection`), loaded
into a private in-memory SQLite database, and the query runs there, read-only, in a worker
thread, so that SQLite and PostgreSQL deployments answer alike. Restate runs these queries on
DataFusion; the few of its spellings that Restate's CLI sends and SQLite reads otherwise are
rewritten first (`first_value(x ORDER BY y)` as an aggregate, `index` as a column name,
`STRING` as a type). What is loaded is bounded (`Limits`); a query that is not valid SQL, names
a table that does not exist or runs too long is a 400 with SQLite's message.

The answer is `{"rows": [{column: value}]}` for `accept: application/json` (binary values as
hex, as Restate's JSON answer has them), else an Arrow IPC stream (`awaken.admin.arrow`).
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from awaken.admin import introspection as tables
from awaken.admin.arrow import ArrowType, Column, ipc_stream
from awaken.admin.introspection import BOOL, Catalog, Row
from awaken.core.jsonvalue import loads_strict
from awaken.errors import BadRequest
from awaken.ingress.http import HttpRequest, Send, respond, respond_json
from awaken.storage.protocol import InvocationRecord

if TYPE_CHECKING:
    from awaken.engine.engine import Engine

ARROW_CONTENT_TYPE = "application/vnd.apache.arrow.stream"

_INVOCATION_ID = re.compile(r"\binv_[0-9A-Za-z]+\b")
_STRING = re.compile(r"'(?:[^']|'')*'")
_FIRST_VALUE_ORDERED = re.compile(
    r"\bfirst_value\s*\(\s*([^()]+?)\s+order\s+by\s+([^()]+?)(?:\s+(asc|desc))?\s*\)", re.IGNORECASE
)
_INDEX = re.compile(r'(?<!["\w])index(?!["\w])', re.IGNORECASE)
_STRING_TYPE = re.compile(r"\bAS\s+STRING\b", re.IGNORECASE)
_UNSIGNED = re.compile(r"\bINT\s+UNSIGNED\b", re.IGNORECASE)
_BOOL_COLUMNS = {name for cols in tables.TABLES.values() for name, ty in cols if ty == BOOL} | {
    "pinned_deployment_exists"
}


@dataclass(frozen=True, slots=True)
class Limits:
    invocations: int = 10_000  # newest first; those a query names by id are loaded besides
    journals: int = 200  # journals of invocations loaded when a query names none by id
    state: int = 10_000  # state values
    rows: int = 10_000  # rows of an answer
    seconds: float = 5.0  # time a query may run


@dataclass(frozen=True, slots=True)
class Result:
    columns: list[str]
    rows: list[Row]

    def json(self) -> dict[str, Any]:
        """Restate's JSON answer: binary values as hex, flags as booleans."""
        kinds = [_arrow_type(name, [row[i] for row in self.rows]) for i, name in enumerate(self.columns)]
        return {
            "rows": [
                {
                    name: _json_value(kind, value)
                    for name, kind, value in zip(self.columns, kinds, row, strict=True)
                }
                for row in self.rows
            ]
        }

    def arrow(self) -> bytes:
        columns = []
        for i, name in enumerate(self.columns):
            values = [row[i] for row in self.rows]
            kind = _arrow_type(name, values)
            if kind is ArrowType.UTF8:
                values = [None if v is None else str(v) for v in values]
            columns.append(Column(name, kind, values))
        return ipc_stream(columns)


def _json_value(kind: ArrowType, value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if kind is ArrowType.BOOL and value is not None:
        return bool(value)
    return value


def _arrow_type(name: str, values: Sequence[Any]) -> ArrowType:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bytes) for v in present):
        return ArrowType.BINARY
    if present and all(isinstance(v, int) for v in present):
        return ArrowType.BOOL if name in _BOOL_COLUMNS and set(present) <= {0, 1} else ArrowType.INT64
    if present and all(isinstance(v, int | float) for v in present):
        return ArrowType.FLOAT64
    return ArrowType.UTF8


@dataclass(slots=True)
class _Loaded:
    rows: dict[str, list[Row]] = field(default_factory=dict)


def translate(sql: str) -> str:
    """DataFusion's spellings that Restate's CLI uses, as SQLite reads them (outside literals)."""
    parts = []
    last = 0
    for literal in _STRING.finditer(sql):
        parts.append(_translate_code(sql[last : literal.start()]))
        parts.append(literal.group(0))
        last = literal.end()
    parts.append(_translate_code(sql[last:]))
    return "".join(parts)


def _translate_code(code: str) -> str:
    code = _INDEX.sub('"index"', code)
    code = _STRING_TYPE.sub("AS TEXT", code)
    code = _UNSIGNED.sub("INTEGER", code)

    def ordered(match: re.Match[str]) -> str:
        descending = 1 if (match.group(3) or "").lower() == "desc" else 0
        return f"awaken_first_by({match.group(1)}, {match.group(2)}, {descending})"

    return _FIRST_VALUE_ORDERED.sub(ordered, code)


def _referenced(sql: str) -> set[str]:
    return {name for name in tables.TABLES if re.search(rf"\b{name}\b", sql, re.IGNORECASE)}


def _literal(sql: str, column: str) -> str | None:
    """The value a query compares `column` with (`column = 'v'`), to load no more than needed."""
    match = re.search(rf"\b{column}\s*==?\s*'((?:[^']|'')*)'", sql, re.IGNORECASE)
    return None if match is None else match.group(1).replace("''", "'")


async def _load(engine: Engine, sql: str, names: set[str], limits: Limits) -> _Loaded:
    store = engine.store
    loaded = _Loaded()
    catalog = Catalog(engine.services)
    named_ids = list(dict.fromkeys(_INVOCATION_ID.findall(sql)))
    records: list[InvocationRecord] = []
    if names & {"sys_invocation", "sys_invocation_status", "sys_invocation_state", "sys_inbox"} or (
        "sys_keyed_service_status" in names or ("sys_journal" in names and not named_ids)
    ):
        records = await store.list_invocations(None, limit=limits.invocations)
        have = {r.id for r in records}
        for invocation_id in named_ids:
            if invocation_id not in have:
                record = await store.get_invocation(invocation_id)
                if record is not None:
                    records.append(record)
    if "sys_invocation" in names:
        loaded.rows["sys_invocation"] = tables.invocation_rows(catalog, records, stored_status=False)
    if "sys_invocation_status" in names:
        loaded.rows["sys_invocation_status"] = tables.invocation_rows(catalog, records, stored_status=True)
    if "sys_invocation_state" in names:
        loaded.rows["sys_invocation_state"] = tables.invocation_state_rows(records)
    if "sys_inbox" in names:
        loaded.rows["sys_inbox"] = tables.inbox_rows(records)
    if "sys_keyed_service_status" in names:
        loaded.rows["sys_keyed_service_status"] = tables.keyed_status_rows(catalog, records)
    if "sys_journal" in names:
        journal_ids = named_ids or [r.id for r in records[: limits.journals]]
        rows: list[Row] = []
        for invocation_id in journal_ids:
            rows += tables.journal_rows(invocation_id, await store.get_journal(invocation_id))
        loaded.rows["sys_journal"] = rows
    if "state" in names:
        # the first values, and (the comparison may be in any part of the query) all of those of
        # the service and key it names
        values = {(v.service, v.key, v.name): v for v in await store.list_state(limit=limits.state)}
        service = _literal(sql, "service_name")
        if service is not None:
            key = _literal(sql, "service_key")
            for v in await store.list_state(service, key, limit=limits.state):
                values[v.service, v.key, v.name] = v
        loaded.rows["state"] = tables.state_rows(values.values())
    if "sys_service" in names:
        loaded.rows["sys_service"] = tables.service_rows(catalog)
    if "sys_deployment" in names:
        await engine.deployments.load()
        local = engine.started_at_ms if engine.local_services else None
        loaded.rows["sys_deployment"] = tables.deployment_rows(engine.deployments.records.values(), local)
    return loaded


class _FirstBy:
    """`awaken_first_by(value, key, descending)`: the value of the row with the least (or
    greatest) key, DataFusion's `first_value(value ORDER BY key)` as an aggregate."""

    def __init__(self) -> None:
        self.rows: list[tuple[Any, Any]] = []
        self.descending = False

    def step(self, value: Any, key: Any, descending: int) -> None:
        self.descending = bool(descending)
        self.rows.append((key, value))

    def finalize(self) -> Any:
        keyed = [row for row in self.rows if row[0] is not None]
        if not keyed:
            return self.rows[0][1] if self.rows else None
        pick = max if self.descending else min
        return pick(keyed, key=lambda row: row[0])[1]


class _FirstValue:
    """`first_value(x)`: SQLite's window function, and also (as DataFusion has it) an aggregate."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def step(self, value: Any) -> None:
        self.values.append(value)

    def inverse(self, value: Any) -> None:
        self.values.pop(0)

    def value(self) -> Any:
        return self.values[0] if self.values else None

    def finalize(self) -> Any:
        return self.value()


def _execute(sql: str, loaded: _Loaded, limits: Limits) -> Result:
    db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=True)
    try:
        db.execute("ATTACH DATABASE ':memory:' AS information_schema")
        db.execute(
            "CREATE TABLE information_schema.columns (table_catalog TEXT, table_schema TEXT,"
            " table_name TEXT, column_name TEXT, ordinal_position INTEGER, data_type TEXT, is_nullable TEXT)"
        )
        db.execute(
            "CREATE TABLE information_schema.tables (table_catalog TEXT, table_schema TEXT, table_name TEXT)"
        )
        for name, columns in tables.TABLES.items():
            column_sql = ", ".join(f'"{c}" {_SQLITE_TYPES[ty]}' for c, ty in columns)
            db.execute(f"CREATE TABLE {name} ({column_sql})")
            db.execute("INSERT INTO information_schema.tables VALUES ('datafusion', 'public', ?)", (name,))
            db.executemany(
                "INSERT INTO information_schema.columns VALUES ('datafusion', 'public', ?, ?, ?, ?, 'YES')",
                [(name, c, i, _DATA_TYPES[ty]) for i, (c, ty) in enumerate(columns)],
            )
            rows = loaded.rows.get(name)
            if rows:
                marks = ", ".join("?" * len(columns))
                db.executemany(f"INSERT INTO {name} VALUES ({marks})", rows)
        db.create_aggregate("awaken_first_by", 3, cast(Any, _FirstBy))  # a step of 3 arguments
        db.create_window_function("first_value", 1, _FirstValue)
        db.execute("PRAGMA query_only = ON")
        db.set_authorizer(_authorize)
        deadline = time.monotonic() + limits.seconds
        db.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        try:
            cursor = db.execute(sql)
            found: list[Row] = [tuple(r) for r in cursor.fetchmany(limits.rows)]
        except sqlite3.OperationalError as exc:
            if str(exc) == "interrupted":
                raise BadRequest(f"the query ran longer than {limits.seconds:g} s") from None
            raise BadRequest(f"bad query: {exc}") from None
        except (sqlite3.Error, ValueError, OverflowError) as exc:
            raise BadRequest(f"bad query: {exc}") from None
        return Result([str(d[0]) for d in cursor.description or ()], found)
    finally:
        db.close()


_SQLITE_TYPES = {"text": "TEXT", "int": "INTEGER", "bool": "INTEGER", "time": "TEXT", "blob": "BLOB"}
_DATA_TYPES = {"text": "Utf8", "int": "Int64", "bool": "Boolean", "time": "Timestamp(ms)", "blob": "Binary"}
_ALLOWED = {
    sqlite3.SQLITE_SELECT,
    sqlite3.SQLITE_READ,
    sqlite3.SQLITE_FUNCTION,
    sqlite3.SQLITE_RECURSIVE,
}


def _authorize(action: int, arg1: str | None, arg2: str | None, db: str | None, source: str | None) -> int:
    """Reads and functions only: no PRAGMA, ATTACH or writes from the query."""
    return sqlite3.SQLITE_OK if action in _ALLOWED else sqlite3.SQLITE_DENY


def statement(body: Any) -> str:
    """The SQL of a request body `{"query": "..."}`, less trailing semicolons. BadRequest."""
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        raise BadRequest('expected {"query": "<SQL>"}')
    sql: str = body["query"].strip()
    while sql.endswith(";"):
        sql = sql[:-1].rstrip()
    if not sql:
        raise BadRequest("the query is empty")
    return sql


async def run(engine: Engine, sql: str, limits: Limits = Limits()) -> Result:
    """Answer `sql` over the introspection tables it names. BadRequest for a bad query."""
    loaded = await _load(engine, sql, _referenced(sql), limits)
    translated = translate(sql)
    return await asyncio.to_thread(_execute, translated, loaded, limits)


async def respond_query(engine: Engine, req: HttpRequest, send: Send) -> None:
    """`POST /query`: JSON rows for `accept: application/json`, else an Arrow IPC stream."""
    try:
        body = loads_strict(await req.body())
    except ValueError as exc:
        raise BadRequest(f"the body is not JSON: {exc}") from None
    result = await run(engine, statement(body))
    accept = req.headers.get("accept", "")
    if "application/json" in accept:
        await respond_json(send, 200, result.json())
    else:
        await respond(send, 200, result.arrow(), [(b"content-type", ARROW_CONTENT_TYPE.encode())])


def version_json(awaken_version: str) -> dict[str, Any]:
    """`GET /version` in Restate's shape (`VersionInformation`). Restate's CLI picks the admin API
    version from it (and prefixes its paths with `/v<n>`, which the admin API accepts), and the
    server version decides which of its queries it sends: awaken answers the queries of
    Restate 1.7, whose admin API it implements."""
    return {
        "version": f"{RESTATE_API_VERSION}-awaken.{awaken_version}",
        "min_admin_api_version": 1,
        "max_admin_api_version": MAX_ADMIN_API_VERSION,
        "ingress_endpoint": None,
        "features": {},
    }


RESTATE_API_VERSION = "1.7.0"
MAX_ADMIN_API_VERSION = 4


def _json_response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


# The routes of this module in the admin API's OpenAPI document (`awaken.admin.openapi`).
OPENAPI_PATHS: dict[str, dict[str, Any]] = {
    "/query": {
        "post": {
            "summary": "SQL over Restate's introspection tables (sys_invocation, sys_journal, state, ...)",
            "requestBody": {
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {"query": {"type": "string", "pattern": "[^\\s;]"}},
                            "required": ["query"],
                        }
                    }
                }
            },
            "responses": {
                "200": {
                    "description": "rows: JSON with accept: application/json, else an Arrow IPC stream",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"rows": {"type": "array", "items": {"type": "object"}}},
                            }
                        },
                        ARROW_CONTENT_TYPE: {},
                    },
                },
                "400": _json_response(
                    "a query that is not valid, or names an unknown table", {"type": "object"}
                ),
            },
        }
    },
    "/version": {
        "get": {
            "summary": "Restate's VersionInformation: the admin API versions served (paths may start /v<n>)",
            "responses": {
                "200": _json_response(
                    "version",
                    {
                        "type": "object",
                        "properties": {
                            "version": {"type": "string"},
                            "min_admin_api_version": {"type": "integer"},
                            "max_admin_api_version": {"type": "integer"},
                        },
                    },
                )
            },
        }
    },
}
