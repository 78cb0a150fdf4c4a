"""Awakeable ids of remote handlers, as the SDKs compute them from `StartMessage.id`.

An SDK names an awakeable `sign_1` + base64url (no padding) of `StartMessage.id` followed by the
awakeable's signal index as a big-endian u32; the indices of one invocation are 17, 18, ... in
creation order. The runtime chooses `StartMessage.id`; Restate sends the invocation's own id
there, so anyone holding one awakeable id of Restate can derive the ids of every awakeable of
every invocation whose id they know. awaken sends `random_start_id()`, 24 random bytes kept per
invocation (the length of Restate's raw invocation id, so ids keep their usual 44 characters):
one invocation's awakeable ids reveal nothing about another's. Within one invocation they stay
derivable from each other (same prefix, consecutive indices), since the SDK computes them.
"""

from __future__ import annotations

import base64
import binascii
import secrets

START_ID_SIZE = 24
SIGNAL_PREFIX = "sign_1"
LEGACY_PREFIX = "prom_1"


def random_start_id() -> bytes:
    """A fresh `StartMessage.id` for a new invocation (keep it: every attempt must send the same)."""
    return secrets.token_bytes(START_ID_SIZE)


def awakeable_id(start_id: bytes, signal_index: int) -> str:
    """The id an SDK gives the awakeable with `signal_index` of the invocation started with `start_id`."""
    if not 0 <= signal_index <= 0xFFFFFFFF:
        raise ValueError(f"signal index {signal_index} is not a u32")
    raw = start_id + signal_index.to_bytes(4, "big")
    return SIGNAL_PREFIX + base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def parse_awakeable_id(value: str) -> tuple[bytes, int]:
    """`(start_id, signal_index)` of a `sign_1...` (or legacy `prom_1...`) id; ValueError if malformed.

    For `prom_1` ids the index is the journal entry index of the legacy protocols."""
    if not value.startswith((SIGNAL_PREFIX, LEGACY_PREFIX)):
        raise ValueError("an awakeable id starts with sign_1 or prom_1")
    body = value[len(SIGNAL_PREFIX) :]
    if len(body) > 4096 or not body.isascii():
        raise ValueError("malformed awakeable id")
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"awakeable id is not base64url: {exc}") from exc
    if len(raw) <= 4:
        raise ValueError("awakeable id too short")
    return raw[:-4], int.from_bytes(raw[-4:], "big")
