"""Invocation and awakeable ids.

Invocation ids have Restate's shape (`inv_1` + base62 partition key + base62 uuid, 38 chars).
Awakeable ids have Restate's shape (`sign_1` + base64url, 44 chars) but carry 28 random bytes
instead of an invocation id and a sequential index: holding one id tells nothing about another.
Randomness comes in as bytes, so this module stays pure.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import random
from dataclasses import dataclass

from awaken.errors import BadRequest

_B62 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_B62_INDEX = {c: i for i, c in enumerate(_B62)}
_B62_PAIRS = [a + b for a in _B62 for b in _B62]  # two digits per division: half the big-int work
_PK_WIDTH = 11
_UUID_WIDTH = 22
INVOCATION_ID_LENGTH = 38
AWAKEABLE_RANDOM_BYTES = 28


def _b62(value: int, width: int) -> str:
    out = []
    while value:
        value, rem = divmod(value, 3844)
        out.append(_B62_PAIRS[rem])
    return "".join(reversed(out)).rjust(width, "0")[-width:]


def _unb62(text: str) -> int:
    value = 0
    for c in text:
        digit = _B62_INDEX.get(c)
        if digit is None:
            raise ValueError(f"invalid base62 character {c!r}")
        value = value * 62 + digit
    return value


def _swap(value: int, size: int) -> int:
    # Restate encodes the integer after to_be() on a little-endian host: a byte swap.
    return int.from_bytes(value.to_bytes(size, "big"), "little")


@dataclass(frozen=True, slots=True)
class InvocationId:
    partition_key: int
    uuid: bytes  # 16 bytes

    def __str__(self) -> str:
        return (
            "inv_1"
            + _b62(_swap(self.partition_key, 8), _PK_WIDTH)
            + _b62(_swap(int.from_bytes(self.uuid, "big"), 16), _UUID_WIDTH)
        )

    @classmethod
    def parse(cls, text: str) -> InvocationId:
        if len(text) != INVOCATION_ID_LENGTH or not text.startswith("inv_1"):
            raise BadRequest(f"bad invocation id {text!r}: expected inv_1 followed by 33 base62 characters")
        try:
            pk = _swap(_unb62(text[5 : 5 + _PK_WIDTH]), 8)
            uu = _swap(_unb62(text[5 + _PK_WIDTH :]), 16)
            return cls(pk, uu.to_bytes(16, "big"))
        except (ValueError, OverflowError) as exc:
            raise BadRequest(f"bad invocation id {text!r}: {exc}") from None

    @classmethod
    def from_random(cls, now_ms: int, random16: bytes) -> InvocationId:
        """A ULID-like id: 48 bits of milliseconds, then randomness."""
        uuid = now_ms.to_bytes(6, "big") + random16[:10]
        return cls(int.from_bytes(random16[10:16] + random16[:2], "big"), uuid)

    @classmethod
    def deterministic(cls, *parts: str) -> InvocationId:
        """The same target and key always give the same id (idempotency keys, workflow runs)."""
        # Length-prefixed parts: ("a,b", "c") and ("a", "b,c") must not collide.
        encoded = b"".join(
            len(p.encode("utf-8", "surrogatepass")).to_bytes(4, "big") + p.encode("utf-8", "surrogatepass")
            for p in parts
        )
        digest = hashlib.sha256(encoded).digest()
        return cls(int.from_bytes(digest[16:24], "big"), digest[:16])


_B62_BYTE = bytes(ord(_B62[i % 62]) for i in range(256))  # random byte -> base62 digit


# Random invocation ids start with the time, so that the ids of new invocations sort after older
# ones: the store's indexes keyed by id then grow at their end (a few pages per commit) instead of
# at random places (a page per invocation). Digits in ASCII order, so that byte order is time
# order; the first one is also below 21 in base62, so the partition-key part still decodes.
_TIME_FIRST = "0123456789abcdefghijk"
_TIME_REST = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_TIME_EPOCH_MS = 1_704_067_200_000  # 2024-01-01; the prefix wraps around after 37 years
_TIME_SPAN_MS = 21 * 62**6
_TIME_WIDTH = 7


@functools.lru_cache(maxsize=4)  # invocations created in the same millisecond share it
def _time_prefix(now_ms: int) -> str:
    t = (now_ms - _TIME_EPOCH_MS) % _TIME_SPAN_MS
    digits = []
    for _ in range(_TIME_WIDTH - 1):
        t, rem = divmod(t, 62)
        digits.append(_TIME_REST[rem])
    digits.append(_TIME_FIRST[t])
    return "".join(reversed(digits))


def random_invocation_id(rng: random.Random, now_ms: int) -> str:
    """A new invocation id: the time in milliseconds (7 digits, time-ordered), then random
    digits (4 of the partition key, 22 of the uuid: 148 random bits). Drawn as base62 text
    directly (a byte translation, no big-integer arithmetic): this runs once per invocation.
    The uuid's leading digit is bounded below 7 so that the text always decodes."""
    raw = rng.randbytes(_PK_WIDTH - _TIME_WIDTH + _UUID_WIDTH)
    digits = raw.translate(_B62_BYTE).decode("ascii")
    cut = _PK_WIDTH - _TIME_WIDTH
    return "inv_1" + _time_prefix(now_ms) + digits[:cut] + _B62[raw[cut] % 7] + digits[cut + 1 :]


def new_invocation_id(now_ms: int, random16: bytes) -> str:
    return str(InvocationId.from_random(now_ms, random16))


def idempotent_invocation_id(service: str, key: str | None, handler: str, idempotency_key: str) -> str:
    return str(InvocationId.deterministic("ik", service, key or "", handler, idempotency_key))


def workflow_invocation_id(service: str, key: str) -> str:
    return str(InvocationId.deterministic("wf", service, key))


def new_awakeable_id(random_bytes: bytes) -> str:
    if len(random_bytes) != AWAKEABLE_RANDOM_BYTES:
        raise ValueError("an awakeable id needs exactly 28 random bytes")
    return "sign_1" + base64.urlsafe_b64encode(random_bytes).rstrip(b"=").decode()


def parse_awakeable_id(text: str) -> str:
    """Validate an awakeable id's shape and return its canonical form (no padding).

    Both `sign_1…` and the legacy `prom_1…` prefixes are accepted; padding may be present.
    Raises BadRequest (400) for anything that is not a well-formed id.
    """
    if text.startswith("sign_1"):
        prefix = "sign_1"
    elif text.startswith("prom_1"):
        prefix = "prom_1"
    else:
        raise BadRequest(f"bad awakeable id {text!r}: expected a sign_1… or prom_1… id")
    body = text[len(prefix) :].rstrip("=")
    if not body or len(body) > 64:
        raise BadRequest(f"bad awakeable id {text!r}: wrong length")
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raise BadRequest(f"bad awakeable id {text!r}: not base64url") from None
    canonical = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    if len(raw) != AWAKEABLE_RANDOM_BYTES or canonical != body:
        raise BadRequest(f"bad awakeable id {text!r}: expected {AWAKEABLE_RANDOM_BYTES} bytes of base64url")
    return prefix + body
