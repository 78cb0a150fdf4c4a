"""`awaken state get|set`: the state of virtual object and workflow keys."""

from __future__ import annotations

import json

import click

from awaken.cli import output
from awaken.cli.errors import USAGE, CliFailure
from awaken.cli.options import admin_options, client, json_option


@click.group()
def state() -> None:
    """The state of virtual object and workflow keys: get, set.

    \b
    Examples:
      awaken state get accounts alice
      awaken state set accounts alice balance 100
    """


@state.command("get")
@click.argument("service")
@click.argument("key")
@admin_options
@json_option
def get(service: str, key: str, admin_url: str | None, admin_token: str | None, as_json: bool) -> None:
    """The state of SERVICE/KEY: each name and its JSON value (raw bytes as {"$base64": ...}).

    \b
    Example:
      awaken state get accounts alice --json
    """
    with client(admin_url, admin_token) as api:
        values = api.get_state(service, key)
    if as_json:
        output.emit_json(values)
        return
    rows = [{"name": name, "value": output.compact(value, 2000)} for name, value in values.items()]
    output.table(rows, [("name", output.field("name")), ("value", output.field("value"))])


@state.command("set")
@click.argument("service")
@click.argument("key")
@click.argument("name")
@click.argument("value")
@admin_options
@json_option
def set_(
    service: str,
    key: str,
    name: str,
    value: str,
    admin_url: str | None,
    admin_token: str | None,
    as_json: bool,
) -> None:
    """Set NAME of SERVICE/KEY to the JSON VALUE (refused while an invocation holds the key).

    \b
    Example:
      awaken state set accounts alice balance 100
    """
    try:
        parsed = json.loads(value)
    except ValueError as exc:
        raise CliFailure(f"VALUE must be JSON (a string is '\"text\"'): {exc}", USAGE) from None
    with client(admin_url, admin_token) as api:
        values = api.get_state(service, key)
        values[name] = parsed
        api.replace_state(service, key, values)
    if as_json:
        output.emit_json({"service": service, "key": key, "name": name, "value": parsed})
    else:
        click.echo(f"{service}/{key}: {name} set")
