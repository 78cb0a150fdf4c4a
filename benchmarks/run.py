"""awaken benchmarks: one command, JSON out.

    python -m benchmarks.run [--quick]

Starts the real `awaken serve` (SQLite file, synchronous=full, one process) on loopback ports
and drives it from this process with aiohttp:

- step_c1 / step_c64: a 1-step handler (one ctx.run), N calls at concurrency 1 and 64;
- awakeables: 1,000 invocations wait on awakeables, a client attached to each; all are resolved
  over HTTP (concurrency 64); `resolve_per_s` counts 202 answers, `completions_per_s` runs until
  every attached client has its answer;
- large_state: server CPU per call of a virtual object with a 1 MiB value: one that reads and
  rewrites it, one that touches a small value beside it;
- suspended_memory: RSS of the server idle, and after 10,000 invocations are suspended.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(n: int) -> list[int]:
    """`n` distinct free ports (each socket stays bound until all are picked)."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(n):
            s = stack.enter_context(socket.socket())
            s.bind(("127.0.0.1", 0))
            ports.append(int(s.getsockname()[1]))
        return ports


def disk_commit_ms(directory: Path, n: int = 300) -> dict[str, float]:
    """Latency of a bare one-row SQLite commit (WAL, synchronous=FULL) on this disk: the floor
    under every durable step, and the figure to compare runs on a shared machine by."""
    import sqlite3

    conn = sqlite3.connect(directory / "fsync.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (a INTEGER, b BLOB)")
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        conn.execute("BEGIN")
        conn.execute("INSERT INTO t VALUES (?, ?)", (i, b"x" * 200))
        conn.execute("COMMIT")
        times.append(time.perf_counter() - t0)
    conn.close()
    times.sort()
    return {"p50_ms": round(times[n // 2] * 1000, 3), "p99_ms": round(times[int(n * 0.99) - 1] * 1000, 3)}


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) the process has used: steadier than wall time on a shared
    machine, so each workload also reports server CPU per operation."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Server:
    def __init__(
        self,
        workdir: Path,
        suspend_after: float | None = None,
        db: str | None = None,
        extra: list[str] | None = None,
    ) -> None:
        self.port, self.admin_port = free_ports(2)
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin = f"http://127.0.0.1:{self.admin_port}"
        args = [
            sys.executable, "-m", "awaken.cli.main", "serve", "benchmarks.bench_app:app",
            "--port", str(self.port), "--admin-port", str(self.admin_port),
            "--db", db or f"sqlite:///{workdir / 'bench.db'}",
        ]  # fmt: skip
        if suspend_after is not None:
            args += ["--suspend-after", str(suspend_after)]
        args += extra or []
        self.log = open(workdir / f"server-{self.port}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(args, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)

    async def ready(self, session: aiohttp.ClientSession) -> None:
        await wait_healthy(session, self.url, 20)

    def stop(self) -> None:
        stop_process(self.proc, self.log)


async def wait_healthy(session: aiohttp.ClientSession, url: str, timeout_s: float) -> None:
    """Until the awaken server at `url` answers its health check (RuntimeError after `timeout_s`)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            async with session.get(f"{url}/restate/health") as r:
                if r.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.05)
    raise RuntimeError(f"the server at {url} did not start within {timeout_s:g} s")


def stop_process(proc: subprocess.Popen[bytes], log: IO[bytes]) -> None:
    """SIGTERM, then SIGKILL after 10 s; the log file closed."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


async def pool(n: int, concurrency: int, job: Any) -> list[float]:
    latencies: list[float] = []
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            t0 = time.perf_counter()
            await job(i)
            latencies.append(time.perf_counter() - t0)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


def summary(latencies: list[float], elapsed: float) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "calls": len(ordered),
        "per_s": round(len(ordered) / elapsed, 1),
        "p50_ms": round(ordered[len(ordered) // 2] * 1000, 3),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 3),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 3),
    }


async def bench_steps(
    session: aiohttp.ClientSession, server: Server, n: int, concurrency: int
) -> dict[str, Any]:
    url = server.url

    async def call(i: int) -> None:
        async with session.post(f"{url}/bench/step", data=str(i), headers=JSON) as r:
            body = await r.read()
            if r.status != 200 or int(body) != i:
                raise RuntimeError(f"bad answer {r.status} {body!r}")

    await pool(min(200, n), concurrency, call)  # warm-up
    cpu0 = cpu_s(server.proc.pid)
    t0 = time.perf_counter()
    latencies = await pool(n, concurrency, call)
    result = summary(latencies, time.perf_counter() - t0)
    result["server_cpu_ms_per_call"] = round((cpu_s(server.proc.pid) - cpu0) / n * 1000, 3)
    return result


JSON = {"content-type": "application/json"}


async def send_waiters(session: aiohttp.ClientSession, server: Server, n: int) -> list[tuple[str, str]]:
    """Start `n` invocations that wait on awakeables; (awakeable id, invocation id) of each."""

    async def send(i: int) -> None:
        async with session.post(f"{server.url}/bench/wait/send", data=str(i), headers=JSON) as r:
            if r.status != 202:
                raise RuntimeError(f"send failed: {r.status}")

    await pool(n, 64, send)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        async with session.get(f"{server.admin}/invocations/counts") as r:
            counts = await r.json()
        if counts.get("running", 0) + counts.get("suspended", 0) >= n:
            async with session.get(f"{server.admin}/awakeables", params={"limit": str(n * 2)}) as r:
                rows = (await r.json())["awakeables"]
            if len(rows) >= n:
                return [(row["id"], row["invocation_id"]) for row in rows]
        await asyncio.sleep(0.2)
    raise RuntimeError("awakeables were not all created")


async def count(session: aiohttp.ClientSession, server: Server, status: str) -> int:
    async with session.get(f"{server.admin}/invocations/counts") as r:
        return int((await r.json()).get(status, 0))


async def attach_all(url: str, invocation_ids: list[str]) -> asyncio.Task[None]:
    """A task that attaches to every invocation at once (its own connections: one per caller,
    as the waiting clients of the awakeables would be) and ends when all have answered."""

    async def attach_every() -> None:
        connector = aiohttp.TCPConnector(limit=len(invocation_ids) + 8)
        async with aiohttp.ClientSession(connector=connector) as attaching:

            async def attach(invocation_id: str) -> None:
                async with attaching.get(f"{url}/restate/invocation/{invocation_id}/attach") as r:
                    if r.status != 200:
                        raise RuntimeError(f"attach failed: {r.status} {await r.text()}")
                    await r.read()

            await asyncio.gather(*(attach(i) for i in invocation_ids))

    task = asyncio.ensure_future(attach_every())
    await asyncio.sleep(0.5)  # the attaches are in (each one waits on the server)
    return task


async def bench_awakeables(session: aiohttp.ClientSession, server: Server, n: int) -> dict[str, Any]:
    waiting = await send_waiters(session, server, n)
    done = await attach_all(server.url, [invocation for _, invocation in waiting])

    async def resolve(i: int) -> None:
        url = f"{server.url}/restate/awakeables/{waiting[i][0]}/resolve"
        async with session.post(url, data=str(i), headers=JSON) as r:
            if r.status != 202:
                raise RuntimeError(f"resolve failed: {r.status} {await r.text()}")

    cpu0 = cpu_s(server.proc.pid)
    t0 = time.perf_counter()
    latencies = await pool(n, 64, resolve)
    resolved = time.perf_counter() - t0
    await done
    finished = time.perf_counter() - t0
    cpu = cpu_s(server.proc.pid) - cpu0
    return {
        "server_cpu_ms_per_completion": round(cpu / n * 1000, 3),
        "awakeables": n,
        "resolve_per_s": round(n / resolved, 1),
        "resolve_p50_ms": round(sorted(latencies)[n // 2] * 1000, 3),
        "completions_per_s": round(n / finished, 1),
    }


async def bench_large_state(session: aiohttp.ClientSession, server: Server, n: int) -> dict[str, Any]:
    """A virtual object with a 1 MiB value: server CPU per call that reads and rewrites it, and per
    call that touches only a small value beside it."""
    out: dict[str, Any] = {}
    for handler in ("touch", "small"):
        url = f"{server.url}/big/obj/{handler}"
        async with session.post(url, data="0", headers=JSON) as r:  # the value exists
            await r.read()
        cpu0 = cpu_s(server.proc.pid)
        for i in range(n):
            async with session.post(url, data=str(i), headers=JSON) as r:
                if r.status != 200:
                    raise RuntimeError(f"{handler} failed: {r.status} {await r.text()}")
                await r.read()
        out[f"{handler}_server_cpu_ms_per_call"] = round((cpu_s(server.proc.pid) - cpu0) / n * 1000, 3)
    return out


async def bench_memory(session: aiohttp.ClientSession, server: Server, n: int) -> dict[str, Any]:
    idle = rss_mb(server.proc.pid)
    await send_waiters(session, server, n)
    deadline = time.monotonic() + 120
    while await count(session, server, "suspended") < n:
        if time.monotonic() > deadline:
            raise RuntimeError("invocations did not all suspend")
        await asyncio.sleep(0.2)
    loaded = rss_mb(server.proc.pid)
    return {
        "suspended": n,
        "rss_idle_mb": round(idle, 1),
        "rss_suspended_mb": round(loaded, 1),
        "rss_delta_mb": round(loaded - idle, 1),
    }


def median(rounds: list[dict[str, Any]], key: str) -> dict[str, Any]:
    ordered = sorted(rounds, key=lambda r: float(r[key]))
    median = dict(ordered[len(ordered) // 2])
    median[f"rounds_{key}"] = [r[key] for r in rounds]
    return median


async def main(quick: bool) -> dict[str, Any]:
    rounds = 1 if quick else 3
    n_calls = 300 if quick else 2000
    n_awk = 200 if quick else 1000
    n_mem = 1000 if quick else 10_000
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "storage": "sqlite, WAL, synchronous=full, one process",
    }
    with tempfile.TemporaryDirectory(prefix="awaken-bench-") as tmp:
        results["disk_commit"] = disk_commit_ms(Path(tmp))
    connector = aiohttp.TCPConnector(limit=128)
    async with aiohttp.ClientSession(connector=connector) as session:
        with tempfile.TemporaryDirectory(prefix="awaken-bench-") as tmp:
            server = Server(Path(tmp))
            try:
                await server.ready(session)
                # This machine is shared and noisy: each workload runs `rounds` times and the
                # median round (by throughput) is reported, with every round's figure beside it.
                c1 = [await bench_steps(session, server, n_calls, 1) for _ in range(rounds)]
                c64 = [await bench_steps(session, server, n_calls, 64) for _ in range(rounds)]
                awk = [await bench_awakeables(session, server, n_awk) for _ in range(rounds)]
                results["step_c1"] = median(c1, "per_s")
                results["step_c64"] = median(c64, "per_s")
                results["awakeables"] = median(awk, "completions_per_s")
                results["large_state"] = await bench_large_state(session, server, 20 if quick else 100)
            finally:
                server.stop()
        with tempfile.TemporaryDirectory(prefix="awaken-bench-") as tmp:
            server = Server(Path(tmp), suspend_after=0.2)
            try:
                await server.ready(session)
                results["suspended_memory"] = await bench_memory(session, server, n_mem)
            finally:
                server.stop()
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small runs (a smoke test)")
    print(json.dumps(asyncio.run(main(parser.parse_args().quick)), indent=2))
