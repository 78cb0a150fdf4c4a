"""How the CLI shows things: tables and key/value views for people (rich), JSON for scripts,
and the words awaken uses for outcomes, attempts and times."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import click


def emit_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


def console(stderr: bool = False) -> Any:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # Not a terminal (a pipe, a file): no colours, and wide, so that ids are never cut.
    return Console(file=stream, width=None if stream.isatty() else 250, highlight=False)


def when(ms: Any) -> str:
    """A time in ms since the epoch, for people: ISO 8601 in UTC, to the second."""
    if ms is None:
        return ""
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def span(ms: int) -> str:
    """A duration in ms, for people: 850ms, 12.3s, 4m05s, 3h02m, 2d04h."""
    if ms < 1000:
        return f"{ms}ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def outcome(row: dict[str, Any]) -> str:
    """succeeded, failed, cancelled or killed (empty while it has not completed). Restate's wire
    message for a cancellation is "canceled"; awaken's own word is "cancelled"."""
    result = row.get("completion_result")
    if result is None:
        return ""
    if result == "success":
        return "succeeded"
    failure = row.get("completion_failure") or {}
    if failure.get("code") == 409 and failure.get("message") == "killed":
        return "killed"
    if failure.get("code") == 409 and failure.get("message") in ("canceled", "cancelled"):
        return "cancelled"
    return "failed"


def attempts(row: dict[str, Any]) -> int:
    """How many attempts ran: the failed ones (what the store counts), plus the one running or
    the one that ended it, if it ever ran (an invocation cancelled before it started ran none)."""
    failed = int(row.get("attempts") or 0)
    status = row.get("status")
    ran = int(row.get("epoch") or 0) > 0
    if status in ("running", "suspended") or (status == "completed" and ran and outcome(row) != "killed"):
        return failed + 1
    return failed


def next_run(row: dict[str, Any]) -> str:
    """When a scheduled invocation starts, or a backing-off one retries."""
    if row.get("status") in ("scheduled", "backing-off") and row.get("run_at") is not None:
        return when(row["run_at"])
    return ""


def schema_summary(schema: Any) -> str:
    """A JSON schema in a few words: `Verdict {approved: boolean, reviewer: string}`, `integer`,
    `any`."""
    if not isinstance(schema, dict) or not schema:
        return "any"
    title = schema.get("title")
    kind = schema.get("type")
    props = schema.get("properties")
    if isinstance(props, dict) and props:
        fields = ", ".join(
            f"{name}: {(spec or {}).get('type', 'any') if isinstance(spec, dict) else 'any'}"
            for name, spec in list(props.items())[:6]
        )
        more = ", ..." if len(props) > 6 else ""
        return f"{title or 'object'} {{{fields}{more}}}"
    if "enum" in schema:
        return "one of " + ", ".join(json.dumps(v) for v in schema["enum"][:6])
    if isinstance(kind, list):
        return " | ".join(str(k) for k in kind)
    return str(title or kind or "any")


def compact(value: Any, limit: int = 200) -> str:
    """A JSON value on one line, cut at `limit` characters."""
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return text if len(text) <= limit else text[: limit - 1] + "…"


Column = tuple[str, Callable[[dict[str, Any]], str]]


def table(rows: Sequence[dict[str, Any]], columns: Sequence[Column], footer: str | None = None) -> None:
    from rich.table import Table

    out = Table(show_edge=False, pad_edge=False)
    for name, _ in columns:
        # ids are never cut: people copy them into curl commands
        out.add_column(name, no_wrap=name.endswith("id"), overflow="fold")
    for row in rows:
        out.add_row(*(cell(row) for _, cell in columns))
    screen = console()
    screen.print(out)
    screen.print(footer if footer is not None else f"{len(rows)} row(s)")


def field(name: str) -> Callable[[dict[str, Any]], str]:
    def cell(row: dict[str, Any]) -> str:
        value = row.get(name)
        return "" if value is None else str(value)

    return cell
