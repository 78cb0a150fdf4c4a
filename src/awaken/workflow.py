"""restate-sdk's `restate.workflow`."""

from __future__ import annotations

from awaken.sdk.service import Workflow

__all__ = ["Workflow"]
