"""Start-up on storage that cannot be used: a read-only directory or file stops `awaken serve` with
one clear line and exit code 3, no traceback; `awaken migrate` checks a file's integrity and
reports a damaged page; a server on a damaged file never acknowledges a write it cannot read back."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import E2E_DIR, Effects, Server, free_ports

pytestmark = pytest.mark.e2e

CLI = [sys.executable, "-m", "awaken.cli.main"]
SETPRIV = shutil.which("setpriv")


def as_an_unprivileged_user() -> list[str]:
    """A prefix that makes file permissions apply: root ignores them unless it drops the
    capabilities that override them (setpriv); anyone else is bound by them anyway."""
    if os.geteuid() != 0:
        return []
    if SETPRIV is None:
        pytest.skip("running as root without setpriv: permissions cannot be made to apply")
    return [SETPRIV, "--bounding-set", "-dac_override,-dac_read_search", "--"]


def run_cli(*args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWAKEN_")}
    return subprocess.run(
        [*as_an_unprivileged_user(), *CLI, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=E2E_DIR,
        env=env,
    )


def serve_args(db: Path) -> list[str]:
    port, admin_port = free_ports(2)
    return [
        "serve",
        "crash_app:app",
        "--port",
        str(port),
        "--admin-port",
        str(admin_port),
        "--db",
        f"sqlite:///{db}",
    ]


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Path]:
    """A migrated database file in a directory of its own (permissions restored afterwards)."""
    directory = tmp_path / "data"
    directory.mkdir()
    db = directory / "awaken.db"
    done = subprocess.run([*CLI, "migrate", "--db", f"sqlite:///{db}"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    yield db
    directory.chmod(0o755)
    for path in directory.iterdir():
        path.chmod(0o644)


def one_line_error(run: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in run.stderr + run.stdout, run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, run.stderr
    return lines[0]


def test_a_read_only_directory_stops_start_up_with_one_clear_line(database: Path) -> None:
    database.parent.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP)
    run = run_cli(*serve_args(database), "--no-migrate")
    assert run.returncode == 3, run.stderr
    line = one_line_error(run)
    assert line.startswith("Error: cannot start:") and str(database) in line and "writable" in line


def test_a_read_only_file_stops_start_up_with_one_clear_line(database: Path) -> None:
    database.chmod(stat.S_IRUSR | stat.S_IRGRP)
    run = run_cli(*serve_args(database))
    assert run.returncode == 3, run.stderr
    line = one_line_error(run)
    assert line.startswith("Error: cannot start:") and str(database) in line and "writable" in line


def test_a_missing_directory_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    parent = tmp_path / "locked"
    parent.mkdir()
    parent.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        run = run_cli(*serve_args(parent / "sub" / "awaken.db"))
        assert run.returncode == 3, run.stderr
        assert "writable" in one_line_error(run)
        run = run_cli("migrate", "--db", f"sqlite:///{parent / 'sub' / 'awaken.db'}")
        assert run.returncode == 1, run.stderr
        assert "writable" in one_line_error(run)
    finally:
        parent.chmod(0o755)


def damage(db: Path, table_pages: list[int], page_size: int = 4096) -> None:
    """Overwrite the start of each page (its b-tree header and cell pointers) with garbage, as a
    bad sector or a stray write would."""
    with open(db, "r+b") as f:
        for page in table_pages:
            f.seek((page - 1) * page_size)
            f.write(b"\x0d\xff\xff\xff" + b"\xde\xad\xbe\xef" * 255)
            f.flush()
            os.fsync(f.fileno())


def root_pages(db: Path) -> dict[str, int]:
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        return {
            name: int(page)
            for name, page in conn.execute("SELECT name, rootpage FROM sqlite_master WHERE rootpage > 0")
        }
    finally:
        conn.close()


def test_migrate_reports_a_damaged_page_and_a_server_acknowledges_nothing_it_cannot_read(
    make_server: Callable[..., Server], effects: Effects
) -> None:
    server = make_server("crash_app:app", env={"E2E_EFFECTS_DIR": str(effects.directory)}).start()
    before = [server.send("/flow/work", f"b{i}") for i in range(50)]
    for invocation_id in before:
        assert server.attach(invocation_id).status_code == 200
    assert server.stop() == 0  # a clean stop: everything is in the main file

    pages = root_pages(server.db_path)
    damage(server.db_path, [pages["invocations"], pages["journal"]])

    run = subprocess.run(
        [*CLI, "migrate", "--db", f"sqlite:///{server.db_path}"], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    assert "is damaged" in run.stderr and "backup" in run.stderr, run.stderr

    # A server on it: whatever it accepts (202) it can read back after a kill -9 and a restart;
    # what it cannot store it refuses.
    try:
        server.start()
    except RuntimeError as exc:  # it may refuse to start on a damaged file: then with a reason
        assert "malformed" in str(exc), exc
        print("the server refused to start on the damaged file")
        return
    accepted, refused = [], []
    for i in range(20):
        r = server.client.post(f"{server.url}/flow/work/send", json=f"a{i}")
        assert r.status_code in (202, 503, 500), r.text
        if r.status_code == 202:
            accepted.append(r.json()["invocationId"])
        else:
            refused.append(r.json()["message"])
    print(f"on the damaged file: {len(accepted)} accepted, {len(refused)} refused: {refused[:1]}")
    server.restart()
    for invocation_id in accepted:
        r = server.client.get(f"{server.admin_url}/invocations/{invocation_id}")
        assert r.status_code == 200, r.text
