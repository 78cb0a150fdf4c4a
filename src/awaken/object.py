"""restate-sdk's `restate.object`."""

from __future__ import annotations

from awaken.sdk.service import VirtualObject

__all__ = ["VirtualObject"]
