"""`awaken invocations describe ID`: one invocation for people. Its status and outcome, attempts,
next retry, last failure, timings, input and output, then its journal: each entry with what it
carried in (payload) and what came back (result)."""

from __future__ import annotations

from typing import Any

from awaken.cli.output import attempts, compact, console, next_run, outcome, schema_summary, span, when


def _value(wrapped: dict[str, Any] | None) -> str:
    """A result ({"value"} / {"failure"}) on one line."""
    if wrapped is None:
        return ""
    if "failure" in wrapped:
        failure = wrapped["failure"] or {}
        return f"failed {failure.get('code')}: {failure.get('message')}"
    return compact(wrapped.get("value"))


def _details(entry: dict[str, Any]) -> str:
    """What an entry's metadata says, per kind: awakeable id and deadline, timer, call target,
    signal ordinal or target..."""
    data = entry.get("data") or {}
    kind = entry.get("kind")
    parts: list[str] = []
    match kind:
        case "awakeable":
            parts.append(str(data.get("id", "")))
            if data.get("deadline") is not None:
                parts.append(f"deadline {when(data['deadline'])}")
            if data.get("schema") is not None:
                parts.append(f"type {schema_summary(data['schema'])}")
        case "sleep":
            if data.get("wake_at") is not None:
                parts.append(f"until {when(data['wake_at'])}")
        case "call" | "send":
            if data.get("invocation_id"):
                parts.append(str(data["invocation_id"]))
            if data.get("run_at"):
                parts.append(f"at {when(data['run_at'])}")
            if data.get("idempotency_key"):
                parts.append(f"idempotency key {data['idempotency_key']}")
        case "run":
            if data.get("attempts"):
                parts.append(f"{data['attempts']} failed tries, last: {data.get('last_failure', '')}")
        case "signal":
            if data.get("ordinal") is not None:
                parts.append(f"signal #{data['ordinal']} of this name")
        case "send_signal":
            if data.get("invocation_id"):
                parts.append(f"to {data['invocation_id']}")
            if data.get("code") is not None:
                parts.append(f"rejected {data['code']}: {data.get('message', '')}")
        case "cancel_signal":
            parts.append("the cancellation was raised here")
    if entry.get("payload") is not None:
        parts.append(f"in: {compact(entry['payload'])}")
    return "; ".join(p for p in parts if p)


def render(inv: dict[str, Any]) -> None:
    from rich.table import Table

    screen = console()
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column(overflow="fold")
    done = outcome(inv)
    head.add_row("invocation", str(inv.get("id")))
    head.add_row("target", str(inv.get("target")))
    head.add_row("status", str(inv.get("status")) + (f" ({done})" if done else ""))
    head.add_row("attempts", str(attempts(inv)))
    nxt = next_run(inv)
    if nxt:
        head.add_row("next run" if inv.get("status") == "scheduled" else "next retry", nxt)
    if inv.get("last_failure"):
        head.add_row("last failure", str(inv["last_failure"]))
    created, completed = inv.get("created_at"), inv.get("completed_at")
    head.add_row("created", when(created))
    head.add_row("modified", when(inv.get("modified_at")))
    if completed is not None and created is not None:
        head.add_row("completed", f"{when(completed)} (after {span(int(completed) - int(created))})")
    if inv.get("idempotency_key"):
        head.add_row("idempotency key", str(inv["idempotency_key"]))
    head.add_row("input", compact(inv.get("input"), 2000))
    if inv.get("output") is not None:
        head.add_row("output", _value(inv.get("output")))
    screen.print(head)

    journal = inv.get("journal") or []
    entries = Table(title=f"journal ({len(journal)} entries)", title_justify="left", show_edge=False)
    for name in ("#", "kind", "name", "result", "details"):
        entries.add_column(name, overflow="fold")
    for entry in journal:
        result = _value(entry.get("result")) if entry.get("completed") else "pending"
        entries.add_row(
            str(entry.get("index")),
            str(entry.get("kind")),
            str(entry.get("name") or ""),
            result,
            _details(entry),
        )
    screen.print()
    screen.print(entries)
