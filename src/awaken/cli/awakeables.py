"""`awaken awakeables ...`: the pending ones, and completing them (over the ingress, as curl would)."""

from __future__ import annotations

import json
from typing import Any

import click

from awaken.cli import output
from awaken.cli.errors import USAGE, CliFailure
from awaken.cli.options import admin_options, client, ingress_option, json_option


@click.group()
def awakeables() -> None:
    """Pending awakeables: list, resolve, reject.

    \b
    Examples:
      awaken awakeables ls
      awaken awakeables resolve sign_1Xk... '{"approved": true, "reviewer": "ada"}'
      awaken awakeables reject sign_1Xk... 'card looks stolen'
    """


@awakeables.command("ls")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100_000))
@admin_options
@json_option
def ls(limit: int, admin_url: str | None, admin_token: str | None, as_json: bool) -> None:
    """List pending awakeables, oldest first: id, invocation, target, expected type (the JSON
    schema its payload must satisfy; --json gives it whole), created, deadline.

    \b
    Example:
      awaken awakeables ls --json | jq -r '.[].id'
    """
    with client(admin_url, admin_token) as api:
        rows = api.list_awakeables(limit=limit)
    for row in rows:
        row["target"] = "/".join(p for p in (row.get("service"), row.get("key"), row.get("handler")) if p)
    if as_json:
        output.emit_json(rows)
        return
    output.table(
        rows,
        [
            ("id", output.field("id")),
            ("invocation_id", output.field("invocation_id")),
            ("target", output.field("target")),
            ("type", lambda r: output.schema_summary(r.get("schema"))),
            ("created", lambda r: output.when(r.get("created_at"))),
            ("deadline", lambda r: output.when(r.get("deadline"))),
        ],
    )


def _answer(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        output.emit_json(result)
    else:
        click.echo(result.get("status", ""))


@awakeables.command("resolve")
@click.argument("awakeable_id")
@click.argument("payload", default="null")
@ingress_option
@json_option
def resolve(awakeable_id: str, payload: str, url: str | None, as_json: bool) -> None:
    """Resolve an awakeable with a JSON PAYLOAD (default null): its handler's await returns it.
    Prints Accepted, or PreviouslyAccepted for the same completion again.

    \b
    Example:
      awaken awakeables resolve sign_1Xk... '{"approved": true, "reviewer": "ada"}'
    """
    try:
        value = json.loads(payload)
    except ValueError as exc:
        raise CliFailure(f"PAYLOAD must be JSON (a string is '\"text\"'): {exc}", USAGE) from None
    with client(url=url) as api:
        _answer(api.resolve_awakeable(awakeable_id, value), as_json)


@awakeables.command("reject")
@click.argument("awakeable_id")
@click.argument("reason")
@ingress_option
@json_option
def reject(awakeable_id: str, reason: str, url: str | None, as_json: bool) -> None:
    """Reject an awakeable with a REASON: its handler's await raises TerminalError(REASON, 500).

    \b
    Example:
      awaken awakeables reject sign_1Xk... 'card looks stolen'
    """
    with client(url=url) as api:
        _answer(api.reject_awakeable(awakeable_id, reason), as_json)
