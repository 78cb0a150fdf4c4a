"""Instructions per remote invocation of awaken's server, counted by valgrind: one command, JSON out.

    python -m benchmarks.protocol_instructions [--calls N]

CPU times on a shared VM move by tens of percent from one minute to the next; instruction counts
do not (the same code, the same work: the same count within a few tenths of a percent). So a
change of the protocol's hot path is measured here. For each mode of `benchmarks.protocol`
(request/response and bidi) and each concurrency (1 and 64), this starts the real `awaken serve`
(SQLite file, synchronous=full) under `valgrind --tool=callgrind` with instrumentation off, and
the same `restate-sdk` service as `benchmarks.protocol` in its own process; it warms up with 50
calls, turns instrumentation on (`callgrind_control -i on`), makes N calls of the 1-step handler,
turns it off and reports the instructions counted per call.

What it does not count: the kernel's work (system calls, fsyncs, context switches) and the other
processes. The server runs about 50 times slower under valgrind, so timers fire relatively
earlier than they would (a write that waits for the next one waits less), and work driven by
time (timers, periodic tasks) is counted per call as often as the calls are slow: on a busy
machine the counts come out higher (measured: 12-34% higher while a test suite ran beside it).
Compare counts taken on a quiet machine, one after the other.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
from tests.protocol.rig import start_endpoint, stop_endpoint

from benchmarks.protocol import MODES, Rig, register, steps
from benchmarks.run import ROOT, free_ports, stop_process, wait_healthy

WARMUP = 50


class ValgrindServer:
    """`awaken serve` under callgrind, instrumentation off until asked; the attributes the rig
    reads."""

    def __init__(self, workdir: Path) -> None:
        self.port, self.admin_port = free_ports(2)
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin = f"http://127.0.0.1:{self.admin_port}"
        self.out = workdir / "callgrind.out"
        args = [
            "valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={self.out}",
            sys.executable, "-m", "awaken.cli.main", "serve", "benchmarks.bench_app:app",
            "--port", str(self.port), "--admin-port", str(self.admin_port),
            "--db", f"sqlite:///{workdir / 'bench.db'}",
        ]  # fmt: skip
        self.log = open(workdir / "server.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(args, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)

    async def ready(self, session: aiohttp.ClientSession) -> None:
        await wait_healthy(session, self.url, 120)  # imports under valgrind take a while

    def control(self, *args: str) -> None:
        subprocess.run(["callgrind_control", *args, str(self.proc.pid)], check=True, capture_output=True)

    def counted(self) -> int:
        """The instructions of the dumps written so far (the instrumented stretch)."""
        total = 0
        for dump in self.out.parent.glob(self.out.name + "*"):
            for line in dump.read_text(errors="replace").splitlines():
                if line.startswith("totals:"):
                    total += int(line.split()[1])
        return total


async def measure(session: aiohttp.ClientSession, mode: str, concurrency: int, calls: int) -> int:
    with tempfile.TemporaryDirectory(prefix="awaken-bench-") as tmp:
        endpoint = start_endpoint(MODES[mode])
        server = ValgrindServer(Path(tmp))
        try:
            await server.ready(session)
            rig = Rig(server, endpoint)  # type: ignore[arg-type]  # the attributes it reads
            await register(session, rig, mode)
            await steps(session, rig, WARMUP, concurrency)
            server.control("-i", "on")
            await steps(session, rig, calls, concurrency)
            server.control("-i", "off")
            server.control("-d")
            return server.counted() // calls
        finally:
            stop_endpoint(endpoint)
            stop_process(server.proc, server.log)


async def main(calls: int) -> dict[str, Any]:
    out: dict[str, Any] = {"calls": calls, "unit": "instructions of the server process per invocation"}
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=128), timeout=timeout) as s:
        for mode in ("request_response", "bidi"):
            out[mode] = {
                f"step_c{c}": await measure(s, mode, c, calls * (4 if c > 1 else 1)) for c in (1, 64)
            }
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument(
        "--calls", type=int, default=100, help="calls at concurrency 1 (4 times as many at 64)"
    )
    for tool in ("valgrind", "callgrind_control"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is needed (Debian: apt-get install valgrind)")
    os.chdir(ROOT)
    print(json.dumps(asyncio.run(main(parser.parse_args().calls)), indent=2))
