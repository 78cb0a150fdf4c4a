"""awaken hosting a service of the official Python SDK (`restate-sdk`): one command, JSON out.

    python -m benchmarks.protocol [--quick]

For each mode of Restate's service protocol, starts the real `awaken serve` (SQLite file,
synchronous=full, one process) and the service of benchmarks/sdk_app.py in its own process on
loopback ports, registers it through awaken's admin API (`POST /deployments`), and drives
awaken's ingress from this process with aiohttp:

- modes: `request_response` (uvicorn, HTTP/1.1, registered with `use_http_11`) and `bidi`
  (hypercorn, HTTP/2 cleartext);
- step_c1 / step_c64: a 1-step handler (one `ctx.run`), N calls at concurrency 1 and 64;
- awakeables: 1,000 invocations each create an awakeable and hand its id out inside `ctx.run`
  (the benchmark reads the ids from the endpoint), then wait; a client is attached to each; all
  are resolved over the ingress (concurrency 64) until every handler has completed;
- while those wait, from outside: the requests to the endpoint in flight (counted by the endpoint
  app) and the established TCP connections to the endpoint's port (/proc/net/tcp). In
  request/response mode they are sampled once awaken counts every invocation suspended (the SDK
  suspends at once; awaken keeps an invocation in memory for `--suspend-after`, 1 s); in bidi
  mode once every stream is open (the default inactivity timeout, 60 s, has not passed);
- suspended (bidi only): the same with a handler whose inactivity timeout is 1 s (declared by the
  SDK in its manifest): once awaken has asked all of them to suspend, the requests and
  connections still open, and the completions per second when each completion replays the
  journal on a new request;
- for each workload: CPU per invocation of awaken's server process and of the endpoint process.

The figures of Restate 1.7.12 serving the same kind of service on this kind of machine are
included (`anchors`) with the targets: at least Restate's throughput in both modes, and awaken's
server CPU per invocation at most half of Restate's server's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from tests.protocol.rig import Endpoint, EndpointKind, start_endpoint, stop_endpoint

from benchmarks.run import JSON, ROOT, Server, attach_all, cpu_s, median, pool, summary

ANCHORS: dict[str, Any] = {
    "server": "Restate 1.7.12, the same Python restate-sdk service",
    "step_c1": {"per_s": 166, "p50_ms": 5.8},
    "step_c64": {"per_s": 564},
    "awakeables_completions_per_s": {"bidi": 1277, "request_response": 751},
    "server_cpu_ms_per_invocation": [1.6, 3.6],
}
TARGETS = {
    "throughput": "at least Restate's (anchors) in both modes",
    "server_cpu_ms_per_invocation": "at most half of Restate's server's: 0.8 to 1.8",
}
SERVICE = "SdkBench"


@dataclass(frozen=True, slots=True)
class BenchEndpointKind(EndpointKind):
    """benchmarks/sdk_app.py served as the protocol tests serve their SDK endpoints."""

    def command(self) -> list[str]:
        server = "hypercorn" if self.http_version == "2" else "uvicorn"
        return [sys.executable, "-m", "tests.protocol.endpoints.serve", server, "benchmarks.sdk_app:app"]


MODES = {
    "request_response": BenchEndpointKind("sdk-uvicorn", "python", "1.1"),
    "bidi": BenchEndpointKind("sdk-hypercorn", "python", "2"),
}


def established_connections(port: int) -> int:
    """TCP connections in state ESTABLISHED whose local port is `port` (the endpoint's side)."""
    total = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                total += 1
    return total


def _cpu_times() -> list[int]:
    """The machine's CPU time (all CPUs, in clock ticks) in user, nice, system, idle, iowait, irq,
    softirq, steal."""
    return [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]


class MachineLoad:
    """How busy the machine was meanwhile, and how much of it was not this benchmark's processes
    (the machine may be shared: then the figures are noisy, CPU per invocation included)."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.times = _cpu_times()
        self.ours = sum(cpu_s(pid) for pid in pids)

    def report(self) -> dict[str, float]:
        now = _cpu_times()
        delta = [b - a for a, b in zip(self.times, now, strict=True)]
        total = sum(delta) or 1
        ticks = os.sysconf("SC_CLK_TCK")
        busy = total - delta[3] - delta[4]
        ours = (sum(cpu_s(pid) for pid in self.pids) - self.ours) * ticks
        return {
            "busy_pct_of_all_cpus": round(100 * busy / total, 1),
            "benchmark_processes_pct": round(100 * ours / total, 1),
            "others_pct": round(100 * max(0.0, busy - ours) / total, 1),
            "steal_pct": round(100 * delta[7] / total, 1),
        }


_FAILED = re.compile(r"WARNING +awaken\.engine +invocation \S+ attempt \d+ failed: ")
_IDS = re.compile(r"\b(inv|dp)_\w+|:\d{2,5}\b|(?<=last stream )\d+")


def failure_summary(failures: list[str]) -> dict[str, Any]:
    """How many attempts failed, and the distinct reasons (ids and ports left out) with counts."""
    reasons: dict[str, int] = {}
    for failure in failures:
        reason = _IDS.sub("*", failure)
        reasons[reason] = reasons.get(reason, 0) + 1
    top = sorted(reasons.items(), key=lambda kv: -kv[1])[:5]
    return {"failed_attempts": len(failures), "reasons": dict(top)}


class Rig:
    """awaken's server, the SDK endpoint registered with it, and their CPU meters."""

    def __init__(self, server: Server, endpoint: Endpoint) -> None:
        self.server = server
        self.endpoint = endpoint
        self.port = int(endpoint.url.rsplit(":", 1)[1])

    def failures(self) -> list[str]:
        """The attempts that failed so far, as awaken's log tells (the retry policy retries them)."""
        self.server.log.flush()
        text = Path(self.server.log.name).read_text(errors="replace")
        return [line.split(" failed: ", 1)[1] for line in text.splitlines() if _FAILED.search(line)]

    def cpu(self) -> tuple[float, float]:
        return cpu_s(self.server.proc.pid), cpu_s(self.endpoint.process.pid)

    def per(self, since: tuple[float, float], n: int, what: str) -> dict[str, float]:
        server, endpoint = self.cpu()
        return {
            f"server_cpu_ms_per_{what}": round((server - since[0]) / n * 1000, 3),
            f"endpoint_cpu_ms_per_{what}": round((endpoint - since[1]) / n * 1000, 3),
        }

    async def stats(self, prefix: str = "") -> dict[str, Any]:
        """The endpoint's side channel (with the awakeable ids of the tags that start with `prefix`),
        over a connection of its own that is closed at once (so that it is not counted among the
        connections to the endpoint)."""
        connector = aiohttp.TCPConnector(force_close=True)
        async with (
            aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as s,
            s.get(f"{self.endpoint.url}/_bench/stats", params={"prefix": prefix}) as r,
        ):
            if r.status != 200:
                raise RuntimeError(f"endpoint stats: {r.status}")
            body: dict[str, Any] = await r.json()
            return body

    async def counts(self, session: aiohttp.ClientSession) -> dict[str, int]:
        async with session.get(f"{self.server.admin}/invocations/counts") as r:
            return {k: int(v) for k, v in (await r.json()).items()}


async def register(session: aiohttp.ClientSession, rig: Rig, mode: str) -> dict[str, Any]:
    body: dict[str, Any] = {"uri": rig.endpoint.url}
    if mode == "request_response":
        body["use_http_11"] = True
    async with session.post(f"{rig.server.admin}/deployments", json=body) as r:
        if r.status != 201:
            raise RuntimeError(f"registration failed: {r.status} {await r.text()}")
        answer: dict[str, Any] = await r.json()
    async with session.get(f"{rig.server.admin}/deployments/{answer['id']}") as r:
        described: dict[str, Any] = await r.json()
    return {"id": answer["id"], "protocol_type": described.get("protocol_type")}


async def steps(session: aiohttp.ClientSession, rig: Rig, n: int, concurrency: int) -> dict[str, Any]:
    url = f"{rig.server.url}/{SERVICE}/step"

    async def call(i: int) -> None:
        async with session.post(url, data=str(i), headers=JSON) as r:
            body = await r.read()
            if r.status != 200 or int(body) != i:
                raise RuntimeError(f"bad answer {r.status} {body!r}")

    await pool(min(50, n), concurrency, call)  # warm-up
    requests0 = (await rig.stats())["invoke_requests"]
    failed0 = len(rig.failures())
    cpu0 = rig.cpu()
    t0 = time.perf_counter()
    latencies = await pool(n, concurrency, call)
    result: dict[str, Any] = summary(latencies, time.perf_counter() - t0)
    result.update(rig.per(cpu0, n, "invocation"))
    requests = (await rig.stats())["invoke_requests"] - requests0
    result["endpoint_requests_per_invocation"] = round(requests / n, 2)
    result["failed_attempts"] = len(rig.failures()) - failed0
    return result


async def wait_until(what: str, timeout: float, check: Any) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.1)


async def settle(rig: Rig, in_flight: int, quiet_s: float = 0.5, timeout: float = 30) -> bool:
    """Until `in_flight` requests to the endpoint are open and none has started for `quiet_s`;
    False if that did not happen within `timeout` (what is open then is reported as it is)."""
    last, since = -1, time.monotonic()

    async def settled() -> bool:
        nonlocal last, since
        stats = await rig.stats()
        if stats["invoke_requests"] != last:
            last, since = stats["invoke_requests"], time.monotonic()
        return int(stats["in_flight"]) == in_flight and time.monotonic() - since >= quiet_s

    try:
        await wait_until(f"{in_flight} requests in flight to the endpoint", timeout, settled)
    except TimeoutError:
        return False
    return True


async def awakeables(
    session: aiohttp.ClientSession, rig: Rig, handler: str, n: int, tag: str, suspend: bool
) -> dict[str, Any]:
    """`n` invocations of `handler` wait on awakeables, then all are resolved in a burst.

    The waiting is measured once every awakeable id has been handed out and, with `suspend`,
    awaken counts all of them suspended (else every stream to the endpoint is open)."""
    requests0 = (await rig.stats())["invoke_requests"]
    failed0 = len(rig.failures())
    cpu0 = rig.cpu()
    t_send = time.perf_counter()
    invocations: dict[str, str] = {}

    async def send(i: int) -> None:
        async with session.post(
            f"{rig.server.url}/{SERVICE}/{handler}/send", data=json.dumps(f"{tag}-{i}"), headers=JSON
        ) as r:
            if r.status != 202:
                raise RuntimeError(f"send failed: {r.status} {await r.text()}")
            invocations[f"{tag}-{i}"] = (await r.json())["invocationId"]

    await pool(n, 64, send)
    handed_out: dict[str, str] = {}

    async def all_handed_out() -> bool:
        handed_out.update((await rig.stats(tag + "-"))["awakeables"])
        return len(handed_out) >= n

    await wait_until("the awakeable ids", 120, all_handed_out)
    waiting_s = time.perf_counter() - t_send
    if suspend:

        async def all_suspended() -> bool:
            return (await rig.counts(session)).get("suspended", 0) >= n

        await wait_until("the invocations to suspend", 120, all_suspended)
    settled = await settle(rig, 0 if suspend else n)  # none open (suspended), or every stream open
    cpu_waiting = rig.cpu()
    connections = established_connections(rig.port)
    stats = await rig.stats()
    counts = await rig.counts(session)
    while_waiting = {
        "invocations_waiting": n,
        "settled": settled,
        "requests_in_flight_to_endpoint": stats["in_flight"],
        "established_connections_to_endpoint": connections,
        "awaken_running": counts.get("running", 0),
        "awaken_suspended": counts.get("suspended", 0),
    }

    done = await attach_all(rig.server.url, list(invocations.values()))
    ids = [(handed_out[f"{tag}-{i}"], i) for i in range(n)]

    async def resolve(i: int) -> None:
        url = f"{rig.server.url}/restate/awakeables/{ids[i][0]}/resolve"
        async with session.post(url, data=json.dumps(f"ok {ids[i][1]}"), headers=JSON) as r:
            if r.status != 202:
                raise RuntimeError(f"resolve failed: {r.status} {await r.text()}")

    cpu_burst = rig.cpu()
    t0 = time.perf_counter()
    latencies = await pool(n, 64, resolve)
    resolved = time.perf_counter() - t0
    await asyncio.wait_for(done, 120)
    finished = time.perf_counter() - t0
    requests = (await rig.stats())["invoke_requests"] - requests0
    result: dict[str, Any] = {
        "awakeables": n,
        "created_and_waiting_s": round(waiting_s, 3),
        "resolve_per_s": round(n / resolved, 1),
        "resolve_p50_ms": round(sorted(latencies)[n // 2] * 1000, 3),
        "completions_per_s": round(n / finished, 1),
        **rig.per(cpu_burst, n, "completion"),
        **rig.per(cpu0, n, "invocation"),
        "endpoint_requests_per_invocation": round(requests / n, 2),
        "failed_attempts": len(rig.failures()) - failed0,
        "server_cpu_ms_per_invocation_until_waiting": round((cpu_waiting[0] - cpu0[0]) / n * 1000, 3),
        "while_waiting": while_waiting,
    }
    return result


@dataclass(frozen=True, slots=True)
class Sizes:
    rounds: int
    c1: int
    c64: int
    awakeables: int


FULL = Sizes(rounds=3, c1=200, c64=1000, awakeables=1000)
QUICK = Sizes(rounds=1, c1=100, c64=300, awakeables=200)


async def run_mode(session: aiohttp.ClientSession, mode: str, sizes: Sizes) -> dict[str, Any]:
    rounds = sizes.rounds
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="awaken-bench-") as tmp:
        endpoint: Endpoint | None = None
        server: Server | None = None
        try:
            endpoint = start_endpoint(MODES[mode])
            server = Server(Path(tmp))
            await server.ready(session)
            rig = Rig(server, endpoint)
            served = "hypercorn (h2c)" if mode == "bidi" else "uvicorn (HTTP/1.1)"
            out["deployment"] = {
                "endpoint": f"restate-sdk under {served}",
                **(await register(session, rig, mode)),
            }
            load = MachineLoad([os.getpid(), server.proc.pid, endpoint.process.pid])
            c1 = [await steps(session, rig, sizes.c1, 1) for _ in range(rounds)]
            c64 = [await steps(session, rig, sizes.c64, 64) for _ in range(rounds)]
            out["step_c1"] = median(c1, "per_s")
            out["step_c64"] = median(c64, "per_s")
            n = sizes.awakeables
            # In request/response mode the SDK suspends at once: awaken counts them suspended.
            rr = mode == "request_response"
            awk = [await awakeables(session, rig, "wait", n, f"w{r}", rr) for r in range(rounds)]
            out["awakeables"] = median(awk, "completions_per_s")
            if not rr:
                out["suspended"] = await awakeables(session, rig, "wait_suspending", n, "s", True)
            out["machine_load"] = load.report()
            out["attempt_failures"] = failure_summary(rig.failures())
            stats = await rig.stats()
            out["endpoint_requests"] = {
                "invoke_requests": stats["invoke_requests"],
                "max_in_flight": stats["max_in_flight"],
            }
        except BaseException:
            if endpoint is not None:
                sys.stderr.write(f"endpoint log ({mode}):\n{endpoint.log_tail()}\n")
            raise
        finally:
            if endpoint is not None:
                stop_endpoint(endpoint)
            if server is not None:
                server.stop()
    return out


def versus_anchors(mode: str, results: dict[str, Any]) -> dict[str, Any]:
    def rate(awaken: float, restate: float) -> dict[str, float]:
        return {"awaken": awaken, "restate": restate, "ratio": round(awaken / restate, 2)}

    low, high = ANCHORS["server_cpu_ms_per_invocation"]
    return {
        "step_c1_per_s": rate(results["step_c1"]["per_s"], ANCHORS["step_c1"]["per_s"]),
        "step_c1_p50_ms": {"awaken": results["step_c1"]["p50_ms"], "restate": ANCHORS["step_c1"]["p50_ms"]},
        "step_c64_per_s": rate(results["step_c64"]["per_s"], ANCHORS["step_c64"]["per_s"]),
        "awakeables_completions_per_s": rate(
            results["awakeables"]["completions_per_s"], ANCHORS["awakeables_completions_per_s"][mode]
        ),
        "server_cpu_ms_per_invocation": {
            "step_c1": results["step_c1"]["server_cpu_ms_per_invocation"],
            "step_c64": results["step_c64"]["server_cpu_ms_per_invocation"],
            "awakeables": results["awakeables"]["server_cpu_ms_per_invocation"],
            "target_at_most": [low / 2, high / 2],
        },
    }


def _versions() -> dict[str, str | None]:
    """Versions of what the figures depend on (httpcore, for one, looks up `sniffio` on every
    request and is much slower when that import fails)."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {}
    for name in ("restate-sdk", "hypercorn", "uvicorn", "httpx", "httpcore", "anyio", "sniffio", "h2"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


async def main(sizes: Sizes) -> dict[str, Any]:
    results: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "load_avg_1m_at_start": round(os.getloadavg()[0], 2),
        },
        "storage": "sqlite, WAL, synchronous=full, one process",
        "versions": _versions(),
        "sizes": {"rounds": sizes.rounds, "c1": sizes.c1, "c64": sizes.c64, "awakeables": sizes.awakeables},
        "anchors": ANCHORS,
        "targets": TARGETS,
        "notes": [
            "while_waiting is sampled once every awakeable id is handed out and, in request/response "
            "mode, awaken counts every invocation suspended (so each completion replays the journal "
            "on a new request), in bidi mode every stream is open",
            "established_connections_to_endpoint counts TCP connections, not requests: in "
            "request/response mode they are idle keep-alive connections of awaken's HTTP/1.1 pool (closed "
            "after 4 s unused), in "
            "bidi mode the HTTP/2 connections that carry the streams",
            "bidi: the `wait` handler has the default inactivity timeout (60 s, Restate's), so its "
            "streams stay open while it waits; `wait_suspending` declares 1 s in the SDK (handler option "
            "inactivity_timeout), after which awaken asks the SDK to suspend",
            "figures are medians of the rounds (every round's figure beside); the machine may be "
            "shared: machine_load says how busy it was during each mode and how much of that was not "
            "this benchmark (others_pct, steal included); with others busy, rates and CPU per "
            "invocation are both worse than on a quiet machine",
        ],
    }
    connector = aiohttp.TCPConnector(limit=128)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=120)
    ) as session:
        for mode in ("request_response", "bidi"):
            budget = 300 if sizes.rounds > 1 else 120
            results[mode] = await asyncio.wait_for(run_mode(session, mode, sizes), budget)
            results[mode]["versus_anchors"] = versus_anchors(mode, results[mode])
    results["machine"]["load_avg_1m_at_end"] = round(os.getloadavg()[0], 2)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small runs (a smoke test)")
    os.chdir(ROOT)
    # SIGTERM as Ctrl-C: the processes started are stopped on the way out.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    sizes = QUICK if parser.parse_args().quick else FULL
    print(json.dumps(asyncio.run(main(sizes)), indent=2))
