"""Parsing of the ingress `?delay=` durations: ISO-8601 (`PT10S`), friendly (`10s`, `1h 30m`,
`500ms`), and a bare number of milliseconds (what the restate-sdk Python client sends)."""

from __future__ import annotations

import re

from awaken.errors import BadRequest

_UNITS_MS = {
    "ms": 1,
    "msec": 1,
    "msecs": 1,
    "millis": 1,
    "millisecond": 1,
    "milliseconds": 1,
    "s": 1000,
    "sec": 1000,
    "secs": 1000,
    "second": 1000,
    "seconds": 1000,
    "m": 60_000,
    "min": 60_000,
    "mins": 60_000,
    "minute": 60_000,
    "minutes": 60_000,
    "h": 3_600_000,
    "hr": 3_600_000,
    "hrs": 3_600_000,
    "hour": 3_600_000,
    "hours": 3_600_000,
    "d": 86_400_000,
    "day": 86_400_000,
    "days": 86_400_000,
    "w": 604_800_000,
    "week": 604_800_000,
    "weeks": 604_800_000,
}
_FRIENDLY = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*,?")
_ISO = re.compile(
    r"^P(?:(?P<w>\d+(?:\.\d+)?)W)?(?:(?P<d>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$",
    re.IGNORECASE,
)
MAX_DELAY_MS = 100 * 365 * 86_400_000


def parse_duration_ms(text: str) -> int:
    """Milliseconds in `text`, or BadRequest."""
    raw = text.strip()
    if not raw:
        raise BadRequest("bad duration '': empty")
    if raw.isascii() and raw.isdigit():
        if len(raw) > 15:
            raise BadRequest(f"bad duration {text!r}: out of range")
        return _bounded(int(raw), text)
    if not raw.isascii():
        raise BadRequest(f"bad duration {text!r}: expected e.g. 10s, 500ms, 1h 30m or PT10S")
    if raw[0] in "pP":
        match = _ISO.match(raw)
        if not match or raw.upper() in ("P", "PT") or raw.upper().endswith("T"):
            raise BadRequest(f"bad duration {text!r}: not an ISO-8601 duration")
        scale = {"w": 604_800_000, "d": 86_400_000, "h": 3_600_000, "m": 60_000, "s": 1000}
        total = sum(float(v) * scale[k] for k, v in match.groupdict().items() if v)
        return _bounded(total, text) if total != float("inf") else _bounded(MAX_DELAY_MS + 1, text)
    total_ms = 0.0
    pos = 0
    while pos < len(raw):
        match = _FRIENDLY.match(raw, pos)
        if not match:
            raise BadRequest(f"bad duration {text!r}: expected e.g. 10s, 500ms, 1h 30m or PT10S")
        unit = _UNITS_MS.get(match.group(2).lower())
        if unit is None:
            raise BadRequest(f"bad duration {text!r}: unknown unit {match.group(2)!r}")
        total_ms += float(match.group(1)) * unit
        pos = match.end()
    return _bounded(total_ms, text) if total_ms != float("inf") else _bounded(MAX_DELAY_MS + 1, text)


def _bounded(ms: int | float, text: str) -> int:
    if not ms == ms or ms < 0 or ms > MAX_DELAY_MS:  # NaN, negative, or beyond a century
        raise BadRequest(f"bad duration {text!r}: out of range")
    return round(ms)
