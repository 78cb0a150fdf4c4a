"""awaken on PostgreSQL, with one node and with two: one command, JSON out.

    python -m benchmarks.postgres [--quick] [--url postgresql://postgres@127.0.0.1:5432/postgres]

Creates (and drops) a database of its own on that server, starts real `awaken serve` nodes on it
and drives them from this process with aiohttp:

- step_c1 / step_c64: a 1-step handler, calls spread over the nodes;
- awakeables: 1,000 invocations wait on awakeables created through node 1, all resolved
  through node 2 (with one node: the same node), until every handler has completed;
- resolve_observed: one invocation at a time waits on an awakeable (in memory, on node 1); the
  time from the resolve sent to node 2 until the caller on node 1 has its answer;
- failover: invocations waiting in memory on node 1, which is SIGKILLed; the time until node 2
  has taken every one over and completed it (the lease is 3 s, the default);
- for each workload: CPU per invocation of the nodes and of all PostgreSQL processes, and
  PostgreSQL write transactions per invocation (transaction ids used: run it on a quiet server).

Two more workloads tell where the CPU of a second node goes at concurrency 64, where each of two
nodes serves half the load: `step_c32` (one node) is that half-load, and `step_c64_one_loaded`
(two nodes, every call to node 1) is the whole load with a second node running beside it idle.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg

from benchmarks.run import JSON, Server, attach_all, cpu_s, median, pool, send_waiters, summary

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def postgres_cpu_s() -> float:
    """CPU seconds of every PostgreSQL process of the machine (its backends included)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() in ("postgres", "postmaster"):
                total += cpu_s(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return total


class Meter:
    """CPU of the nodes and of PostgreSQL, and PostgreSQL's write transactions, over a workload."""

    def __init__(self, nodes: list[Server], admin_url: str, database: str) -> None:
        self.nodes = nodes
        self.admin_url = admin_url
        self.database = database

    async def _xid(self) -> int:
        # Every transaction that writes takes a transaction id (read-only ones take none): the
        # ids used meanwhile count the write transactions (of the whole server: run it quiet).
        conn = await asyncpg.connect(self.admin_url)
        try:
            return int(await conn.fetchval("SELECT pg_current_xact_id()::text::bigint"))
        finally:
            await conn.close()

    async def start(self) -> None:
        self.nodes_cpu = sum(cpu_s(n.proc.pid) for n in self.nodes if n.proc.poll() is None)
        self.pg_cpu = postgres_cpu_s()
        self.xid = await self._xid()

    async def per(self, invocations: int) -> dict[str, float]:
        nodes = sum(cpu_s(n.proc.pid) for n in self.nodes if n.proc.poll() is None) - self.nodes_cpu
        postgres = postgres_cpu_s() - self.pg_cpu
        writes = await self._xid() - self.xid - 1  # less the one of the first reading
        return {
            "nodes_cpu_ms_per_invocation": round(nodes / invocations * 1000, 3),
            "postgres_cpu_ms_per_invocation": round(postgres / invocations * 1000, 3),
            "total_cpu_ms_per_invocation": round((nodes + postgres) / invocations * 1000, 3),
            "pg_write_transactions_per_invocation": round(writes / invocations, 3),
        }


async def steps(
    session: aiohttp.ClientSession, nodes: list[Server], meter: Meter, n: int, c: int
) -> dict[str, Any]:
    async def call(i: int) -> None:
        node = nodes[i % len(nodes)]
        async with session.post(f"{node.url}/bench/step", data=str(i), headers=JSON) as r:
            body = await r.read()
            if r.status != 200 or int(body) != i:
                raise RuntimeError(f"bad answer {r.status} {body!r}")

    await pool(min(200, n), c, call)  # warm-up
    await meter.start()
    t0 = time.perf_counter()
    latencies = await pool(n, c, call)
    result: dict[str, Any] = summary(latencies, time.perf_counter() - t0)
    result.update(await meter.per(n))
    return result


async def awakeables(
    session: aiohttp.ClientSession, nodes: list[Server], meter: Meter, n: int
) -> dict[str, Any]:
    creator, resolver = nodes[0], nodes[-1]
    waiting = await send_waiters(session, creator, n)
    done = await attach_all(creator.url, [invocation for _, invocation in waiting])
    await meter.start()

    async def resolve(i: int) -> None:
        url = f"{resolver.url}/restate/awakeables/{waiting[i][0]}/resolve"
        async with session.post(url, data=str(i), headers=JSON) as r:
            if r.status != 202:
                raise RuntimeError(f"resolve failed: {r.status} {await r.text()}")

    t0 = time.perf_counter()
    latencies = await pool(n, 64, resolve)
    resolved = time.perf_counter() - t0
    await done
    finished = time.perf_counter() - t0
    return {
        "awakeables": n,
        "created_on": "node 1",
        "resolved_through": f"node {len(nodes)}",
        "resolve_per_s": round(n / resolved, 1),
        "resolve_p50_ms": round(sorted(latencies)[n // 2] * 1000, 3),
        "completions_per_s": round(n / finished, 1),
        **(await meter.per(n)),
    }


async def resolve_observed(session: aiohttp.ClientSession, nodes: list[Server], n: int) -> dict[str, Any]:
    """Serial: a caller on node 1 waits for an invocation (in memory on node 1) that waits on an
    awakeable; the awakeable is resolved through node 2; how long until the caller has it."""
    caller, resolver = nodes[0], nodes[-1]
    times: list[float] = []
    for i in range(n):
        task = asyncio.ensure_future(session.post(f"{caller.url}/bench/wait", data=str(i), headers=JSON))
        awakeable = ""
        while not awakeable:
            async with session.get(f"{caller.admin}/awakeables", params={"limit": "10"}) as r:
                rows = (await r.json())["awakeables"]
            awakeable = rows[0]["id"] if rows else ""
            if not awakeable:
                await asyncio.sleep(0.001)
        t0 = time.perf_counter()
        async with session.post(
            f"{resolver.url}/restate/awakeables/{awakeable}/resolve", data="1", headers=JSON
        ) as r:
            if r.status != 202:
                raise RuntimeError(f"resolve failed: {r.status}")
        response = await task
        await response.read()
        times.append(time.perf_counter() - t0)
        if response.status != 200:
            raise RuntimeError(f"call failed: {response.status}")
    times.sort()
    return {
        "samples": n,
        "p50_ms": round(times[n // 2] * 1000, 3),
        "p90_ms": round(times[int(n * 0.9)] * 1000, 3),
    }


async def failover(session: aiohttp.ClientSession, nodes: list[Server], n: int) -> dict[str, Any]:
    """Node 1 runs `n` invocations waiting in memory; it is SIGKILLed; their awakeables are
    resolved through node 2 at once; the time until node 2 has completed them all (a client
    attached to each, through node 2)."""
    victim, survivor = nodes[0], nodes[1]
    waiting = await send_waiters(session, victim, n)
    victim.proc.send_signal(signal.SIGKILL)
    victim.proc.wait()
    t0 = time.perf_counter()
    done = await attach_all(survivor.url, [invocation for _, invocation in waiting])

    async def resolve(i: int) -> None:
        url = f"{survivor.url}/restate/awakeables/{waiting[i][0]}/resolve"
        async with session.post(url, data="1", headers=JSON) as r:
            if r.status != 202:
                raise RuntimeError(f"resolve failed: {r.status} {await r.text()}")

    await pool(n, 32, resolve)
    await done
    return {
        "invocations": n,
        "lease_s": 3.0,
        "all_resumed_and_completed_s": round(time.perf_counter() - t0, 3),
    }


async def _recreate(server_url: str, name: str, drop_only: bool = False) -> str:
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return urlunsplit(urlsplit(server_url)._replace(path="/" + name))


async def run_nodes(
    session: aiohttp.ClientSession, server_url: str, n_nodes: int, quick: bool
) -> dict[str, Any]:
    rounds = 1 if quick else 3
    n_calls = 300 if quick else 2000
    n_awk = 200 if quick else 1000
    name = f"awaken_bench_{os.getpid()}"
    url = await _recreate(server_url, name)
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="awaken-bench-") as tmp:
        # Waiting invocations stay in memory (as with Restate's bidirectional mode): the
        # resolves and the failover measure hand-offs to running attempts.
        nodes = [Server(Path(tmp), db=url, suspend_after=60) for _ in range(n_nodes)]
        try:
            for node in nodes:
                await node.ready(session)
            meter = Meter(nodes, server_url, name)
            c1 = [await steps(session, nodes, meter, n_calls // 4, 1) for _ in range(rounds)]
            c64 = [await steps(session, nodes, meter, n_calls, 64) for _ in range(rounds)]
            awk = [await awakeables(session, nodes, meter, n_awk) for _ in range(rounds)]
            out["step_c1"] = median(c1, "per_s")
            out["step_c64"] = median(c64, "per_s")
            if n_nodes == 1:
                c32 = [await steps(session, nodes, meter, n_calls, 32) for _ in range(rounds)]
                out["step_c32"] = median(c32, "per_s")
            else:
                one = [await steps(session, nodes[:1], meter, n_calls, 64) for _ in range(rounds)]
                out["step_c64_one_loaded"] = median(one, "per_s")
            out["awakeables"] = median(awk, "completions_per_s")
            out["resolve_observed"] = await resolve_observed(session, nodes, 50 if quick else 200)
            if n_nodes > 1:
                out["failover"] = await failover(session, nodes, 100 if quick else 500)
        finally:
            for node in nodes:
                if node.proc.poll() is None:
                    node.stop()
    await _recreate(server_url, name, drop_only=True)
    return out


async def main(quick: bool, server_url: str) -> dict[str, Any]:
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "storage": "postgresql, one database, nodes on this machine",
    }
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=120)
    ) as session:
        results["one_node"] = await run_nodes(session, server_url, 1, quick)
        results["two_nodes"] = await run_nodes(session, server_url, 2, quick)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small runs (a smoke test)")
    parser.add_argument("--url", default=DEFAULT_SERVER, help="a PostgreSQL server to make a database on")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.quick, args.url)), indent=2))
