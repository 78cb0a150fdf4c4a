"""restate-sdk's `restate.logging`: loggers whose lines stay quiet while a handler replays its
journal (see awaken.observability.logs)."""

from __future__ import annotations

from awaken.observability.logs import RestateLoggingFilter, getLogger
from awaken.observability.scope import is_replaying


class _ReplayingFlag:
    """restate-sdk's `restate_context_is_replaying` context variable, read-only here."""

    def get(self) -> bool:
        return is_replaying()


restate_context_is_replaying = _ReplayingFlag()

__all__ = ["RestateLoggingFilter", "getLogger", "restate_context_is_replaying"]
