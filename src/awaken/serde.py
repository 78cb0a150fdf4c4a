"""restate-sdk's `restate.serde`: the serdes, under its names (decoding as `awaken.sdk.serde` says)."""

from __future__ import annotations

from awaken.sdk.serde import (
    BytesSerde,
    DefaultSerde,
    JsonSerde,
    MsgspecJsonSerde,
    PydanticJsonSerde,
    Serde,
    is_pydantic,
)

__all__ = [
    "BytesSerde",
    "DefaultSerde",
    "JsonSerde",
    "MsgspecJsonSerde",
    "PydanticJsonSerde",
    "Serde",
    "is_pydantic",
]
