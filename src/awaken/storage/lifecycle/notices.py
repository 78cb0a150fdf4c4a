"""The text of notices between nodes (see Tx.send): what the rules write, what a node reads.

One notice per line: `d <id> <index> [<outcome>]` (an entry of an attempt it runs completed; the
outcome rides along when it is small, saving the receiver a read), `c <id>` (raise a cancellation
in it), `a <id>` (its attempt lost the invocation), `o <id>` (it completed: callers waiting on it
there may read its outcome). An outcome is `v<base64>` (a value), `n` (no
value) or `f<code>:<base64 message>` (a failure). Anything else is ignored: a notice is a hint.
"""

from __future__ import annotations

import base64
import binascii
import logging

from awaken.core.journal import Outcome
from awaken.storage.protocol import Notice, NoticeKind

log = logging.getLogger("awaken.storage")

DELIVER = "d"
CANCEL = "c"
ABORT = "a"
COMPLETED = "o"
INLINE_OUTCOME_MAX = 3000  # characters of an encoded outcome carried in a notice

_KINDS = {
    DELIVER: NoticeKind.DELIVER,
    CANCEL: NoticeKind.CANCEL,
    ABORT: NoticeKind.ABORT,
    COMPLETED: NoticeKind.COMPLETED,
}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def encode_outcome(outcome: Outcome) -> str | None:
    """The outcome as notice text; None if too large to carry."""
    if outcome.failure is not None:
        text = f"f{outcome.failure.code}:{_b64(outcome.failure.message.encode('utf-8', 'replace'))}"
    elif outcome.value is None:
        text = "n"
    else:
        text = "v" + _b64(outcome.value)
    return text if len(text) <= INLINE_OUTCOME_MAX else None


def decode_outcome(text: str) -> Outcome:
    if text == "n":
        return Outcome()
    if text.startswith("v"):
        return Outcome(base64.b64decode(text[1:], validate=True))
    if text.startswith("f"):
        code, _, message = text[1:].partition(":")
        return Outcome.fail(int(code), base64.b64decode(message, validate=True).decode("utf-8", "replace"))
    raise ValueError(f"not an outcome: {text[:20]!r}")


def deliver(invocation_id: str, index: int, outcome: Outcome) -> str:
    encoded = encode_outcome(outcome)
    base = f"{DELIVER} {invocation_id} {index}"
    return base if encoded is None else f"{base} {encoded}"


def cancel(invocation_id: str) -> str:
    return f"{CANCEL} {invocation_id}"


def abort(invocation_id: str) -> str:
    return f"{ABORT} {invocation_id}"


def completed(invocation_id: str) -> str:
    return f"{COMPLETED} {invocation_id}"


def parse(payload: str) -> list[Notice]:
    """The notices of a message (lines); malformed lines are logged and skipped."""
    out = []
    for line in payload.split("\n"):
        parts = line.split(" ")
        kind = _KINDS.get(parts[0])
        try:
            if kind is NoticeKind.DELIVER and len(parts) in (3, 4):
                outcome = decode_outcome(parts[3]) if len(parts) == 4 else None
                out.append(Notice(kind, parts[1], int(parts[2]), outcome))
                continue
            if kind is not None and len(parts) == 2:
                out.append(Notice(kind, parts[1]))
                continue
        except (ValueError, binascii.Error):
            pass
        log.warning("ignoring a malformed notice %r", line[:200])
    return out
