"""Storage faults of the SQLite store: what each one means for the writer, and the write-ahead log's
identity.

A write that fails for a reason of the storage rather than of the write (the disk is full, another
process holds the lock, an I/O error, the WAL file was deleted) makes the store *unavailable*: its
`problem` says why, both health endpoints answer 503 with it, and the store retries until the
cause is gone (store.py's watcher):

| fault                                   | kind     | what the store does                                 |
| --------------------------------------- | -------- | --------------------------------------------------- |
| SQLITE_BUSY / LOCKED past the bound     | `locked` | refuse writes at once; probe the lock every 50 ms   |
| SQLITE_FULL (disk or max_page_count)    | `full`   | probe with a write that needs new pages             |
| I/O error, read-only, cannot open, ...  | `reopen` | close every connection and open them again          |
| the WAL file deleted or replaced        | `reopen` | first checkpoint what the open connection still     |
|                                         |          | holds into the main file, then reopen               |
| a failed fsync of the WAL               | `reopen` | (nothing after it was acknowledged)                 |
| SQLITE_CORRUPT                          | `corrupt`| refuse as SQLite does; `awaken migrate` checks it    |
"""

from __future__ import annotations

import os
import sqlite3
from typing import Literal

FaultKind = Literal["locked", "full", "reopen", "corrupt"]

_KINDS: dict[int, FaultKind] = {
    sqlite3.SQLITE_BUSY: "locked",
    sqlite3.SQLITE_LOCKED: "locked",
    sqlite3.SQLITE_FULL: "full",
    sqlite3.SQLITE_IOERR: "reopen",
    sqlite3.SQLITE_READONLY: "reopen",
    sqlite3.SQLITE_CANTOPEN: "reopen",
    sqlite3.SQLITE_PERM: "reopen",
    sqlite3.SQLITE_NOTADB: "reopen",
    sqlite3.SQLITE_CORRUPT: "corrupt",
}


def fault_kind(exc: BaseException | None) -> FaultKind | None:
    """The kind of storage fault `exc` (or the sqlite3 error it wraps) is; None for an error of
    the write itself (a constraint, a bug) or no error."""
    exc = _sqlite_cause(exc)
    if exc is None:
        return None
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        return None
    return _KINDS.get(code & 0xFF)


def _sqlite_cause(exc: BaseException | None) -> sqlite3.Error | None:
    """The sqlite3 error `exc` is or was caused by (a chain may loop: `raise e from e`)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, sqlite3.Error):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__
    return None


def describe_fault(exc: BaseException) -> str:
    """One line for the health endpoints: what failed and what to do."""
    kind = fault_kind(exc)
    cause = _sqlite_cause(exc) or exc
    match kind:
        case "locked":
            return f"the database is locked by another process ({cause}); waiting for it to be released"
        case "full":
            return f"the database cannot grow ({cause}); waiting for space"
        case "corrupt":
            return f"the database file is damaged ({cause}): run `awaken migrate` to check it"
        case _:
            return f"the database cannot be written ({cause}); retrying"


class WalFile:
    """The write-ahead log that the write connection has open, held by a descriptor of our own:
    the sync thread fsyncs it, and `intact` tells whether the file at its path is still it (an
    operator's `rm *.db-*`, or a volume sync that puts another file there, would leave the
    connection writing into a file that no restart would ever read)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd: int | None = None
        self._identity: tuple[int, int] | None = None

    def open(self) -> None:
        """Open the WAL file at its path (the connection has created it) and make its directory
        entry durable."""
        self.close()
        fd = os.open(self.path, os.O_RDONLY)
        st = os.fstat(fd)
        self.fd, self._identity = fd, (st.st_dev, st.st_ino)
        dir_fd = os.open(os.path.dirname(self.path) or ".", os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def intact(self) -> bool:
        """Whether the file at the WAL's path is the one the connection writes (one stat)."""
        try:
            st = os.stat(self.path)
        except OSError:
            return False
        return (st.st_dev, st.st_ino) == self._identity

    def fsync(self) -> None:
        if self.fd is None:
            raise OSError("the write-ahead log is not open")
        os.fsync(self.fd)

    def close(self) -> None:
        fd, self.fd = self.fd, None
        if fd is not None:
            os.close(fd)
