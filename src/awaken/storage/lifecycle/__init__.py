"""The lifecycle rules of invocations, written once above the SQL dialects.

Every operation of the Store runs here as an async function over a dialect's `Tx` (op.py): named
queries in, rows out. The rules take the locks they need in one order, so that they hold when
many nodes share one PostgreSQL database as well as on SQLite's single writer:

- anything that changes an invocation, or decides from its status, first locks the invocation's
  row (`lock_invocation`; a no-op on SQLite, `FOR UPDATE` on PostgreSQL), then touches its journal,
  timers and awakeables;
- a virtual object's key lock row is locked before its inbox is read or changed;
- a workflow promise is locked (by name) before it is read or completed;
- an invocation's named signals are guarded by its row lock (sender and receiver both take it).

Modules: `invocations` (create, claim, start, wake, complete: the shared rules), `commit` (one
step of a running attempt), `awakeables` (SPEC §3.3), `signals` (named signals), `timers`,
`control` (cancel, kill, pause, resume, purge, state edits, ownership), `reads`, `rows` (row
codecs) and `store` (the Store Protocol on top of them, for the dialects to subclass).
"""
