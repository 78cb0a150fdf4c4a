"""restate-sdk's `restate.retry_policy`."""

from __future__ import annotations

from awaken.sdk.service import InvocationRetryPolicy

__all__ = ["InvocationRetryPolicy"]
