"""Strict JSON reading for bytes that come from outside: RFC 8259 only (no NaN or Infinity) and
a bounded nesting depth, so that no payload can make the parser blow the stack."""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 512


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _depth_ok(text: bytes) -> bool:
    depth = 0
    in_string = escaped = False
    for byte in text:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > MAX_DEPTH:
                return False
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return True


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def loads_strict(data: bytes) -> Any:
    """Parse JSON; ValueError for anything that is not plain, reasonably nested JSON."""
    if len(data) > MAX_DEPTH and not _depth_ok(data):
        raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels")
    try:
        if data.isascii():  # the common case: no encoding to detect
            return _DECODER.decode(data.decode("ascii"))
        return json.loads(data, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8: {exc}") from None
