"""restate-sdk's `restate.service`."""

from __future__ import annotations

from awaken.sdk.service import Service

__all__ = ["Service"]
