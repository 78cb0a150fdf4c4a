"""PostgreSQL for the tests: the shared server at 127.0.0.1:5432 (user postgres, trust auth), or
AWAKEN_TEST_PG. Each test session makes its own database and empties it between tests.

With CI=true an unreachable PostgreSQL fails the tests that need it; elsewhere they are skipped
with the reason (a developer's machine may have no PostgreSQL).
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

SERVER = os.environ.get("AWAKEN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
TABLES = (
    "invocations, journal, state, locks, waiters, awakeables, timers, promises, promise_waiters, "
    "deployments, signals"
)


def database_url(name: str) -> str:
    return urlunsplit(urlsplit(SERVER)._replace(path="/" + name))


async def _recreate(name: str) -> None:
    conn = await asyncpg.connect(SERVER, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def fresh_database(name: str) -> str:
    """Drop and create database `name` on the test server; its URL. Fails (CI) or skips when the
    server cannot be reached."""
    try:
        # Its own loop, in a thread: session fixtures may be set up from inside a running loop.
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(asyncio.run, _recreate(name)).result()
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        message = f"PostgreSQL at {SERVER} is not reachable: {exc}"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message + " (CI=true: PostgreSQL tests must run)")
        pytest.skip(message)
    return database_url(name)


async def empty(url: str) -> None:
    """Remove every row (the schema stays): a clean database for the next test."""
    conn = await asyncpg.connect(url, timeout=5)
    try:
        if await conn.fetchval("SELECT to_regclass('invocations') IS NOT NULL"):
            await conn.execute(f"TRUNCATE {TABLES}; ALTER SEQUENCE inbox_seq RESTART")
    finally:
        await conn.close()


async def _drop(name: str) -> None:
    conn = await asyncpg.connect(SERVER, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def drop_database(name: str) -> None:
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, _drop(name)).result()
