"""A store that cannot write (here: SQLite's real "database or disk is full", by capping the
file's page count) answers 503 and loses nothing that was acknowledged; once it can write
again, everything goes on."""

from __future__ import annotations

import sqlite3

import pytest

from awaken.storage.sqlite import SqliteStore
from awaken.testing import TestEnvironment


@pytest.fixture
def backend() -> str:
    """SQLite's own fault (PostgreSQL's outages are produced for real in tests/e2e)."""
    return "sqlite"


def write_connection(env: TestEnvironment) -> sqlite3.Connection:
    store = env.engine.store
    assert isinstance(store, SqliteStore)
    writer = store._writer
    assert writer is not None and writer._conn is not None
    return writer._conn


async def test_a_full_disk_answers_503_and_keeps_what_was_accepted(env: TestEnvironment) -> None:
    conn = write_connection(env)
    accepted: list[str] = []
    refused = 0
    page_count = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {page_count}")  # no page more: the disk is "full"
    try:
        for i in range(300):
            r = await env.client.post("/svc/greet/send", json=f"full-{i}")
            if r.status_code == 202:
                accepted.append(r.json()["invocationId"])
                continue
            assert r.status_code == 503, r.text
            assert r.headers["x-restate-error-source"] == "ingress"
            assert "full" in r.json()["message"]
            refused += 1
            if refused >= 3:
                break
        assert refused >= 3
    finally:
        conn.execute("PRAGMA max_page_count = 1073741823")

    # The store writes again: new calls work, and every accepted invocation completes.
    r = await env.client.post("/svc/greet", json="after")
    assert r.status_code == 200, r.text
    for invocation_id in accepted:
        r = await env.client.get(f"/restate/invocation/{invocation_id}/output")
        assert r.status_code in (200, 470), r.text
    for invocation_id in accepted:
        r = await env.client.get(f"/restate/invocation/{invocation_id}/attach")
        assert r.status_code == 200, r.text
