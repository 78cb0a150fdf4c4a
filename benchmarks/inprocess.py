"""The 1-step call path in-process: engine, SDK, ingress and SQLite, without sockets or HTTP parsing.

    python -m benchmarks.inprocess [--calls N] [--synchronous normal|full]

Calls the ASGI app directly (64 concurrent callers) and prints JSON with the CPU time per call.
On a shared machine wall and CPU times move with the neighbours; instruction counts do not. For a
repeatable figure of a hot-path change, count instructions at two sizes and subtract:

    valgrind --tool=callgrind --callgrind-out-file=/dev/null python -m benchmarks.inprocess --calls 500
    valgrind --tool=callgrind --callgrind-out-file=/dev/null python -m benchmarks.inprocess --calls 1500

(the difference of the two "Collected" totals, divided by 1,000, is the instructions per call).
The default `synchronous=normal` leaves the disk out: it measures the CPU work of a call.

    python -m benchmarks.inprocess --db postgresql://postgres@127.0.0.1:5432/postgres

runs the same calls on PostgreSQL (in a database of its own, made and dropped on that server) and
also reports the CPU that PostgreSQL's processes spent per call. `--profile` prints where the
process's time went (cProfile, the event loop's thread only).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import json
import os
import pstats
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from awaken.application import AwakenApp
from benchmarks.bench_app import bench
from benchmarks.postgres import postgres_cpu_s

CONCURRENCY = 64
WARM_UP = 500
HEADERS = [
    (b"host", b"127.0.0.1:8080"),
    (b"content-type", b"application/json"),
    (b"content-length", b"1"),
    (b"user-agent", b"benchmarks"),
    (b"accept", b"*/*"),
]


async def _call(app: AwakenApp, i: int) -> None:
    body = str(i % 10).encode()
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/bench/step", "raw_path": b"/bench/step", "query_string": b"",
        "root_path": "", "headers": HEADERS, "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8080),
    }  # fmt: skip
    received = False
    answer: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # no disconnect while the call runs
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        answer.append(message)

    await app(scope, receive, send)
    if answer[0]["status"] != 200 or int(answer[1]["body"]) != i % 10:
        raise RuntimeError(f"bad answer: {answer}")


async def _pool(app: AwakenApp, calls: int) -> None:
    numbers: Iterator[int] = iter(range(calls))

    async def caller() -> None:
        for i in numbers:
            await _call(app, i)

    await asyncio.gather(*(caller() for _ in range(CONCURRENCY)))


async def main(
    calls: int, synchronous: str = "normal", db: str | None = None, profile: bool = False
) -> dict[str, Any]:
    async with _database(db) as url:
        return await _measure(calls, synchronous, url, profile)


async def _measure(calls: int, synchronous: str, url: str | None, profile: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="awaken-bench-") as tmp:
        app = AwakenApp([bench], db=url or f"sqlite:///{tmp}/bench.db", synchronous=synchronous)
        await app.startup()
        try:
            await _pool(app, WARM_UP)
            thresholds = gc.get_threshold()
            gc.collect()
            gc.freeze()
            gc.set_threshold(50_000, 20, 100)  # as `awaken serve` does
            profiler = cProfile.Profile() if profile else None
            try:
                cpu0, wall0, pg0 = time.process_time(), time.perf_counter(), postgres_cpu_s()
                if profiler is not None:
                    profiler.enable()
                await _pool(app, calls)
                if profiler is not None:
                    profiler.disable()
                cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
                pg = postgres_cpu_s() - pg0
            finally:
                gc.unfreeze()
                gc.set_threshold(*thresholds)
        finally:
            await app.shutdown()
    if profiler is not None:
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(30)
    result: dict[str, Any] = {
        "calls": calls,
        "concurrency": CONCURRENCY,
        "storage": "postgresql" if url else f"sqlite, synchronous={synchronous}",
        "cpu_us_per_call": round(cpu / calls * 1e6, 1),
        "wall_us_per_call": round(wall / calls * 1e6, 1),
    }
    if url:
        result["postgres_cpu_us_per_call"] = round(pg / calls * 1e6, 1)
    return result


@contextlib.asynccontextmanager
async def _database(server: str | None) -> AsyncIterator[str | None]:
    """A database of this run on the PostgreSQL server `server` (dropped after), or None."""
    if server is None:
        yield None
        return
    name = f"awaken_inprocess_{os.getpid()}"
    url = urlunsplit(urlsplit(server)._replace(path="/" + name))

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(server)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if sql:
                await conn.execute(sql)
        finally:
            await conn.close()

    await admin(f'CREATE DATABASE "{name}"')
    try:
        yield url
    finally:
        await admin("")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--synchronous", choices=["normal", "full"], default="normal")
    parser.add_argument("--db", default=None, metavar="URL", help="a PostgreSQL server (default: SQLite)")
    parser.add_argument("--profile", action="store_true", help="cProfile of the calls, on stderr")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.calls, args.synchronous, args.db, args.profile)), indent=2))
