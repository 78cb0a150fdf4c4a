"""Storage faults of the SQLite store, in-process and fast (the real server's are in
tests/e2e/test_storage_faults.py): a deleted WAL file is saved into the main file, a lock held by
another connection fails writes after `busy_timeout` and clears by itself, heavy writes run off
the event loop."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys

import pytest

from awaken.errors import StorageError
from awaken.storage.sqlite import SqliteStore
from tests.contract.support import new_inv


async def wait_for(condition: object, timeout: float = 5.0) -> None:
    assert callable(condition)
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


def count_in_another_process(db_path: str) -> int:
    """What a restarted process would find: the file and the log at its path, nothing more."""
    code = (
        "import sqlite3, sys; "
        "print(sqlite3.connect(sys.argv[1]).execute('SELECT count(*) FROM invocations').fetchone()[0])"
    )
    return int(
        subprocess.run(
            [sys.executable, "-c", code, db_path], capture_output=True, text=True, check=True
        ).stdout
    )


@pytest.mark.parametrize("synchronous", ["full", "normal"])
async def test_a_deleted_wal_file_is_saved_into_the_main_file(db_path: str, synchronous: str) -> None:
    store = SqliteStore(db_path, synchronous=synchronous)
    await store.open()
    try:
        for i in range(20):
            await store.create_invocation(new_inv(f"inv_before{i}"))
        os.unlink(db_path + "-wal")
        os.unlink(db_path + "-shm")
        after = 0
        for i in range(20):  # acknowledged only once in a log that a restart reads, or refused
            try:
                await store.create_invocation(new_inv(f"inv_after{i}"))
                after += 1
            except StorageError as exc:
                assert "write-ahead log" in str(exc)
        await wait_for(lambda: store.stats()["recoveries"] == 1)
        await wait_for(lambda: store.storage_problem() is None)
        await store.create_invocation(new_inv("inv_later"))
        assert count_in_another_process(db_path) == 20 + after + 1
    finally:
        await store.close()


LOCKER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("COMMIT")
"""


async def test_a_lock_of_another_process_fails_writes_fast_and_clears_by_itself(db_path: str) -> None:
    store = SqliteStore(db_path, busy_timeout=0.2)
    await store.open()
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCKER, db_path], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert holder.stdout is not None
        assert (await asyncio.to_thread(holder.stdout.readline)).strip() == b"locked"
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(StorageError, match="locked"):
            await store.create_invocation(new_inv("inv_locked"))
        assert loop.time() - started < 2.0
        problem = store.storage_problem()
        assert problem is not None and "locked by another process" in problem
        started = loop.time()
        with pytest.raises(StorageError):  # known to be locked: refused at once
            await store.create_invocation(new_inv("inv_locked2"))
        assert loop.time() - started < 0.1
    finally:
        assert holder.stdin is not None
        holder.stdin.write(b"\n")
        holder.stdin.flush()
        await asyncio.to_thread(holder.wait, 10)
    try:
        await wait_for(lambda: store.storage_problem() is None)  # the watcher's probe, no write needed
        await store.create_invocation(new_inv("inv_unlocked"))
    finally:
        await store.close()


async def test_heavy_writes_run_off_the_event_loop(db_path: str) -> None:
    store = SqliteStore(db_path)
    await store.open()
    try:
        big = dataclasses.replace(new_inv("inv_big"), input=b'"' + b"x" * (4 * 1024 * 1024) + b'"')
        result, _ = await asyncio.gather(
            store.create_invocation(big), store.create_invocation(new_inv("inv_s"))
        )
        assert result.created
        assert store.stats()["batches_offloaded"] == 1  # the batch that held it ran on the thread
        record = await store.get_invocation("inv_big")
        assert record is not None and record.input == big.input
        await store.create_invocation(new_inv("inv_small"))
        assert store.stats()["batches_offloaded"] == 1  # small writes stay on the loop
    finally:
        await store.close()
