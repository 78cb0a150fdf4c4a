"""A PostgreSQL cluster of the test's own (initdb in a temporary directory, a free port), that a
test may stop, start and restart without touching any other server on the machine.

PostgreSQL refuses to run as root: when the tests run as root, the cluster belongs to the
`postgres` system user (runuser), as Debian's packages set it up.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.e2e.conftest import free_port


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        for directory in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
            if (directory / name).exists():
                return str(directory / name)
        message = f"PostgreSQL's {name} is not installed"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message + " (CI=true: PostgreSQL tests must run)")
        pytest.skip(message)
    return found


class PgCluster:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="awaken-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
            self._as = ["runuser", "-u", "postgres", "--"]
        self._run(_tool("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/awaken"

    def _run(self, *args: str) -> None:
        result = subprocess.run([*self._as, *args], capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed: {result.stdout}{result.stderr}")

    def _ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            _tool("pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"), "-o", options, "-w", *args
        )

    def start(self) -> None:
        self._ctl("start")

    def stop(self) -> None:
        self._ctl("stop", "-m", "fast")

    def restart(self) -> None:
        self._ctl("restart", "-m", "fast")

    def destroy(self) -> None:
        try:
            self._ctl("stop", "-m", "immediate")
        except RuntimeError:
            pass  # not running
        shutil.rmtree(self.root, ignore_errors=True)
