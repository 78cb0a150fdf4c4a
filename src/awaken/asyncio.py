"""restate-sdk's `restate.asyncio`: the combinators over durable futures."""

from __future__ import annotations

from awaken.sdk.combinators import as_completed, gather, select, wait_completed

__all__ = ["as_completed", "gather", "select", "wait_completed"]
