"""The pieces of `POST /query` that need no store: DataFusion spellings rewritten for SQLite (never
inside string literals), the query run read-only over loaded rows, and the Arrow stream's framing."""

from __future__ import annotations

import struct

import pytest

from awaken.admin import query
from awaken.admin.arrow import ArrowType, Column, ipc_stream
from awaken.errors import BadRequest


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (
            "SELECT sj.index FROM sys_journal sj ORDER BY index DESC",
            'SELECT sj."index" FROM sys_journal sj ORDER BY "index" DESC',
        ),
        ("SELECT 'index' AS index", """SELECT 'index' AS "index\""""),
        ("SELECT CAST(NULL as STRING) AS x", "SELECT CAST(NULL AS TEXT) AS x"),
        ("SELECT CAST(1 as INT UNSIGNED)", "SELECT CAST(1 as INTEGER)"),
        (
            "SELECT FIRST_VALUE(id ORDER BY created_at ASC) AS o",
            "SELECT awaken_first_by(id, created_at, 0) AS o",
        ),
        ("SELECT first_value(id order by created_at desc)", "SELECT awaken_first_by(id, created_at, 1)"),
        ("SELECT first_value(id) FROM t", "SELECT first_value(id) FROM t"),
        ("SELECT 'it''s index AS STRING'", "SELECT 'it''s index AS STRING'"),
    ],
)
def test_datafusion_spellings_become_sqlite(sql: str, expected: str) -> None:
    assert query.translate(sql) == expected


def run(sql: str, rows: list[tuple[object, ...]]) -> query.Result:
    loaded = query._Loaded({"sys_inbox": rows})
    return query._execute(query.translate(sql), loaded, query.Limits())


def test_first_value_as_an_aggregate_ordered_or_not() -> None:
    rows: list[tuple[object, ...]] = [
        ("inv_b", "counter", "k", 1, "2026-01-01T00:00:02.000Z"),
        ("inv_a", "counter", "k", 0, "2026-01-01T00:00:01.000Z"),
        ("inv_c", "counter", "j", 2, "2026-01-01T00:00:03.000Z"),
    ]
    result = run(
        "SELECT service_key, FIRST_VALUE(id ORDER BY created_at ASC) AS oldest,"
        " FIRST_VALUE(id ORDER BY created_at DESC) AS newest, COUNT(1) AS n"
        " FROM sys_inbox GROUP BY service_key ORDER BY service_key",
        rows,
    )
    assert result.json() == {
        "rows": [
            {"service_key": "j", "oldest": "inv_c", "newest": "inv_c", "n": 1},
            {"service_key": "k", "oldest": "inv_a", "newest": "inv_b", "n": 2},
        ]
    }
    plain = run("SELECT first_value(id) AS f FROM sys_inbox WHERE service_key = 'j'", rows)
    assert plain.rows == [("inv_c",)]


def test_queries_only_read() -> None:
    for sql in ("DELETE FROM sys_inbox", "CREATE TABLE x (a)", "PRAGMA query_only = OFF"):
        with pytest.raises(BadRequest, match="bad query"):
            run(sql, [])


def test_a_long_query_is_stopped() -> None:
    endless = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT max(i) FROM n"
    with pytest.raises(BadRequest, match="ran longer than"):
        query._execute(endless, query._Loaded(), query.Limits(seconds=0.05))


def test_the_statement_of_a_body() -> None:
    assert query.statement({"query": " SELECT 1 ; ;"}) == "SELECT 1"
    for body in ({"query": ";"}, {"query": 1}, ["SELECT 1"]):
        with pytest.raises(BadRequest):
            query.statement(body)


def test_the_arrow_stream_frames_a_schema_a_batch_and_the_end() -> None:
    stream = ipc_stream([Column("n", ArrowType.INT64, [7, None]), Column("s", ArrowType.UTF8, ["ab", None])])
    messages = []
    at = 0
    while True:
        marker, size = struct.unpack_from("<Ii", stream, at)
        assert marker == 0xFFFFFFFF and size % 8 == 0  # metadata padded to 8 bytes
        at += 8
        if size == 0:
            break
        metadata = stream[at : at + size]
        root = struct.unpack_from("<I", metadata, 0)[0]
        table = root
        vtable = table - struct.unpack_from("<i", metadata, table)[0]
        body_offset = struct.unpack_from("<H", metadata, vtable + 4 + 2 * 3)[0]  # Message.bodyLength
        body_length = struct.unpack_from("<q", metadata, table + body_offset)[0]
        messages.append(body_length)
        at += size + body_length
    assert at == len(stream)
    assert messages[0] == 0  # the schema has no body
    # the batch's body: validity, 2 int64s; validity, 3 offsets, "ab": each padded to 8 bytes
    assert messages[1] == 8 + 16 + 8 + 16 + 8
