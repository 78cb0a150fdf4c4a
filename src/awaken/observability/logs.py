"""Logging: one configuration for awaken, uvicorn and the handlers' own loggers, and the
replay-aware logger of restate-sdk (`awaken.getLogger`, `awaken.RestateLoggingFilter`).

Every line has its time (UTC, milliseconds) and level; lines logged while an invocation runs
(the engine's, and the handler's own) also name its target and id:

    2025-01-31T09:00:00.123Z WARNING awaken.engine [payments/charge inv_1…] attempt 1 failed: …

With `log_format="json"` each line is one JSON object with the same fields (`time`, `level`,
`logger`, `message`, `invocation_id`, `service`, `handler`, `key`, `exception`).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from awaken.observability.scope import current_scope, is_replaying

_INVOCATION_FIELDS = ("invocation_id", "service", "handler", "key")
# Loggers whose lines say what the process does (start, stop): shown at every level.
LIFECYCLE_LOGGER = "awaken.serve"
_UVICORN = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


class RestateLoggingFilter(logging.Filter):
    """Drops records logged while the current invocation's handler replays its journal, so that
    a handler's lines appear once, not once per attempt (restate-sdk's filter of this name)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return super().filter(record) and not is_replaying()


def getLogger(name: str | None = None) -> logging.Logger:
    """`logging.getLogger(name)` with a `RestateLoggingFilter`: its lines are not repeated when
    the handler is replayed (restate-sdk's `restate.getLogger`)."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, RestateLoggingFilter) for f in logger.filters):
        logger.addFilter(RestateLoggingFilter())
    return logger


class InvocationFields(logging.Filter):
    """Puts the current invocation (if any) on every record: `invocation_id`, `service`,
    `handler`, `key` (None outside an invocation)."""

    def filter(self, record: logging.LogRecord) -> bool:
        scope = current_scope()
        if scope is None:
            for name in _INVOCATION_FIELDS:
                setattr(record, name, getattr(record, name, None))
        else:
            record.invocation_id = scope.invocation_id
            record.service = scope.service
            record.handler = scope.handler
            record.key = scope.key
        return True


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _where(record: logging.LogRecord) -> str:
    invocation_id = getattr(record, "invocation_id", None)
    if invocation_id is None:
        return ""
    parts = (getattr(record, "service", None), getattr(record, "key", None), getattr(record, "handler", None))
    target = "/".join(str(p) for p in parts if p is not None)
    return f" [{target} {invocation_id}]"


class TextFormatter(logging.Formatter):
    """`TIME LEVEL LOGGER [TARGET ID] MESSAGE`, then the traceback if there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line = (
            f"{_timestamp(record)} {record.levelname:<7} {record.name}{_where(record)} {record.getMessage()}"
        )
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _INVOCATION_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                out[name] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def configure_logging(level: str = "info", fmt: str = "text", stream: TextIO | None = None) -> None:
    """Send the lines of every logger (awaken's, uvicorn's, the app's) to one handler on
    `stream` (stderr), in `fmt` ("text" or "json"), at `level` and above. uvicorn's own start
    and stop chatter shows at debug only (awaken says when it serves and stops); awaken's
    lifecycle lines show at any level."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    if fmt not in ("text", "json"):
        raise ValueError(f"unknown log format {fmt!r}: text or json")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(InvocationFields())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    for name in _UVICORN:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(logging.NOTSET)
    if numeric > logging.DEBUG:
        logging.getLogger("uvicorn.error").setLevel(max(numeric, logging.WARNING))
    logging.getLogger(LIFECYCLE_LOGGER).setLevel(logging.INFO)


__all__ = [
    "InvocationFields",
    "JsonFormatter",
    "RestateLoggingFilter",
    "TextFormatter",
    "configure_logging",
    "getLogger",
]
