"""The seam between the engine and an attempt: what the engine asks of one, whoever runs the
handler. Two implementations: `awaken.engine.attempt.Attempt` (a handler of this process, run by
awaken's Python SDK) and `awaken.engine.remote_attempt.RemoteAttempt` (a handler served
elsewhere, driven over Restate's service protocol). Both decide retries with
`awaken.core.retry.after_failure` and end with the same transitions (`awaken.storage.protocol`:
Complete, Suspend, Retry, Pause), which the store's rules apply."""

from __future__ import annotations

import asyncio
from typing import Protocol

from awaken.core.journal import Outcome


class AttemptRunner(Protocol):
    closing: bool
    """Set once the attempt has decided how it ends: deliveries then go to the next attempt."""

    def start(self) -> asyncio.Task[None]:
        """Run the attempt to its end (its transition committed) in a task."""
        ...

    def deliver(self, slot: int, outcome: Outcome) -> None:
        """A completion the store recorded for this invocation while the attempt runs."""
        ...

    def request_cancel(self) -> bool:
        """Ask the handler to stop (it sees the cancellation at its next await); False if it
        can no longer be told (it is closing)."""
        ...

    def abort(self) -> None:
        """Stop at once without writing anything (fenced out, killed, or shutting down)."""
        ...
