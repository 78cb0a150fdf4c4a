"""awaken and Restate's own server hosting the same SDK service, in turns: one command, JSON out.

    python -m benchmarks.versus_restate [--quick] [--rounds N]

(the first run installs Restate's server, pinned by benchmarks/restate/package-lock.json, with npm)

The anchors of `benchmarks.protocol` were measured on another day; this VM's speed moves by up to
two times within minutes, so a ratio is only worth something if both servers ran in the same
minutes. For each mode of the protocol, each round runs the workloads of `benchmarks.protocol` on
Restate 1.7.12 (its default configuration: RocksDB with its WAL fsynced, as awaken's SQLite file
with `synchronous=full`), then on awaken, each with a fresh server and a fresh endpoint process:

- step_c1 / step_c64: the 1-step handler at concurrency 1 and 64;
- awakeables (bidi only): 1,000 invocations wait on awakeables, resolved in a burst (Restate
  gives no count of suspended invocations that the request/response variant waits for);
- for each: throughput and the CPU per invocation of the server process (all its threads).

Ports are free ones of loopback; Restate's data lives in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from tests.protocol.rig import start_endpoint, stop_endpoint

from benchmarks.protocol import MODES, Rig, awakeables, register, steps
from benchmarks.run import ROOT, Server, free_ports, stop_process

BINARY = ROOT / "benchmarks/restate/node_modules/@restatedev/restate-server-linux-x64/bin/restate-server"


class RestateServer:
    """Restate's server on free loopback ports, with the attributes the rig reads."""

    def __init__(self, workdir: Path) -> None:
        ingress, admin, fabric = free_ports(3)
        self.url = f"http://127.0.0.1:{ingress}"
        self.admin = f"http://127.0.0.1:{admin}"
        env = {
            **os.environ,
            "RESTATE_BASE_DIR": str(workdir / "restate-data"),
            "RESTATE_INGRESS__BIND_ADDRESS": f"127.0.0.1:{ingress}",
            "RESTATE_ADMIN__BIND_ADDRESS": f"127.0.0.1:{admin}",
            "RESTATE_BIND_PORT": str(fabric),
            "RESTATE_LISTEN_MODE": "tcp",
            "RESTATE_LOG_FILTER": "warn",
        }
        self.log = open(workdir / "restate.log", "wb")  # noqa: SIM115
        command = [str(BINARY), "--no-logo", "--bind-ip", "127.0.0.1"]
        self.proc = subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    async def ready(self, session: aiohttp.ClientSession) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                async with (
                    session.get(f"{self.admin}/health") as admin,
                    session.get(f"{self.url}/restate/health") as ingress,
                ):
                    if admin.status == 200 and ingress.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
        raise RuntimeError(f"Restate's server did not start: {Path(self.log.name).read_text()[-2000:]}")

    def stop(self) -> None:
        stop_process(self.proc, self.log)


class RestateRig(Rig):
    def failures(self) -> list[str]:
        return []  # (Restate's log is not read: its attempts are not counted)

    async def counts(self, session: aiohttp.ClientSession) -> dict[str, int]:
        return {}


async def one_server(session: aiohttp.ClientSession, which: str, mode: str, quick: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="awaken-versus-") as tmp:
        endpoint = start_endpoint(MODES[mode])
        server: Server | RestateServer = RestateServer(Path(tmp)) if which == "restate" else Server(Path(tmp))
        try:
            await server.ready(session)
            rig = (RestateRig if which == "restate" else Rig)(server, endpoint)  # type: ignore[arg-type]
            await register(session, rig, mode)
            if which == "restate":
                await asyncio.sleep(1.0)  # the registration reaches Restate's ingress asynchronously
            out: dict[str, Any] = {}
            for name, n, concurrency in (
                ("step_c1", 100 if quick else 300, 1),
                ("step_c64", 300 if quick else 1500, 64),
            ):
                result = await steps(session, rig, n, concurrency)
                out[name] = {k: result[k] for k in ("per_s", "p50_ms", "server_cpu_ms_per_invocation")}
            if mode == "bidi":
                result = await awakeables(session, rig, "wait", 200 if quick else 1000, f"{which}-w", False)
                out["awakeables"] = {
                    k: result[k] for k in ("completions_per_s", "server_cpu_ms_per_invocation")
                }
            return out
        finally:
            stop_endpoint(endpoint)
            server.stop()


def ratios(rounds: list[dict[str, Any]]) -> dict[str, list[float]]:
    """awaken's server CPU per invocation over Restate's, round by round, per workload."""
    out: dict[str, list[float]] = {}
    for r in rounds:
        for workload, figures in r["awaken"].items():
            restate = r["restate"][workload]["server_cpu_ms_per_invocation"]
            ratio = figures["server_cpu_ms_per_invocation"] / restate if restate else float("nan")
            out.setdefault(workload, []).append(round(ratio, 2))
    return out


async def main(quick: bool, n_rounds: int) -> dict[str, Any]:
    if not BINARY.exists():  # its binary comes in a platform package: no install script is needed
        npm = ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]
        subprocess.run(npm, cwd=BINARY.parents[4], check=True, stdout=subprocess.DEVNULL)
    results: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}}
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=300)
    ) as session:
        for mode in MODES:
            rounds = []
            for _ in range(n_rounds):
                restate = await one_server(session, "restate", mode, quick)
                awaken = await one_server(session, "awaken", mode, quick)
                rounds.append({"restate": restate, "awaken": awaken})
            results[mode] = {"rounds": rounds, "awaken_cpu_over_restate": ratios(rounds)}
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small runs (a smoke test)")
    parser.add_argument("--rounds", type=int, default=2, help="turns of both servers per mode")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.quick, args.rounds)), indent=2))
