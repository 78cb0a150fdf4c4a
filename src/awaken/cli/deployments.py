"""`awaken deployments ...`: handlers served elsewhere (SPEC §8): register, list, describe, remove."""

from __future__ import annotations

import click

from awaken.cli import output
from awaken.cli.errors import USAGE, CliFailure
from awaken.cli.options import admin_options, client, json_option


@click.group()
def deployments() -> None:
    """Deployments: services written with a Restate SDK, served by another process (a Node.js
    server, a Python app, a FaaS function URL) and run by awaken over Restate's service protocol.

    \b
    Examples:
      awaken deployments register http://localhost:9080
      awaken deployments register https://fn.example.com --use-http1.1
      awaken deployments ls
      awaken deployments describe dp_14LsPzYYDtQMZ4bWwoNAVdu
      awaken deployments rm dp_14LsPzYYDtQMZ4bWwoNAVdu
    """


def _header(raw: str) -> tuple[str, str]:
    name, sep, value = raw.partition(":")
    if not sep or not name.strip():
        raise CliFailure(f"--extra-header expects NAME:VALUE, not {raw!r}", USAGE)
    return name.strip(), value.strip()


@deployments.command("register")
@click.argument("uri")
@click.option(
    "--use-http1.1", "use_http_11", is_flag=True, help="speak HTTP/1.1 (request/response mode, as FaaS)"
)
@click.option("--force", is_flag=True, help="replace a registered deployment, even with breaking changes")
@click.option(
    "--extra-header", "extra_headers", multiple=True, metavar="NAME:VALUE", help="sent with every request"
)
@admin_options
@json_option
def register(
    uri: str,
    use_http_11: bool,
    force: bool,
    extra_headers: tuple[str, ...],
    admin_url: str | None,
    admin_token: str | None,
    as_json: bool,
) -> None:
    """Discover the deployment at URI and register its services: new invocations of them run
    there. Registering the same deployment again changes nothing.

    \b
    Examples:
      awaken deployments register http://localhost:9080
      awaken deployments register https://fn.example.com --use-http1.1
      awaken deployments register http://localhost:9080 --force --extra-header 'x-api-key: K'
    """
    if not uri.startswith(("http://", "https://")):
        raise CliFailure(f"URI must be an http:// or https:// URL, not {uri!r}", USAGE)
    headers = dict(_header(h) for h in extra_headers)
    with client(admin_url, admin_token) as api:
        registered = api.register_deployment(uri, use_http_11=use_http_11, force=force, headers=headers)
    if as_json:
        output.emit_json(registered)
        return
    click.echo(f"{registered['id']} at {uri}")
    output.table(
        registered.get("services", []),
        [
            ("service", output.field("name")),
            ("type", output.field("ty")),
            ("handlers", lambda s: ", ".join(h["name"] for h in s.get("handlers", []))),
        ],
    )


@deployments.command("ls")
@admin_options
@json_option
def ls(admin_url: str | None, admin_token: str | None, as_json: bool) -> None:
    """List the registered deployments: id, URI, protocol mode, services.

    \b
    Examples:
      awaken deployments ls
      awaken deployments ls --json
    """
    with client(admin_url, admin_token) as api:
        rows = api.list_deployments()
    if as_json:
        output.emit_json(rows)
        return
    output.table(
        rows,
        [
            ("id", output.field("id")),
            ("uri", output.field("uri")),
            ("mode", output.field("protocol_type")),
            ("protocol", lambda r: f"v{r.get('protocol_version')}"),
            ("services", lambda r: ", ".join(s["name"] for s in r.get("services", []))),
            ("created", output.field("created_at")),
        ],
    )


@deployments.command("describe")
@click.argument("deployment_id")
@admin_options
@json_option
def describe(deployment_id: str, admin_url: str | None, admin_token: str | None, as_json: bool) -> None:
    """One deployment: where it is, how awaken talks to it, and its services and handlers.

    \b
    Example:
      awaken deployments describe dp_14LsPzYYDtQMZ4bWwoNAVdu
    """
    with client(admin_url, admin_token) as api:
        found = api.get_deployment(deployment_id)
    if as_json:
        output.emit_json(found)
        return
    for label, name in (
        ("id", "id"),
        ("uri", "uri"),
        ("mode", "protocol_type"),
        ("http", "http_version"),
        ("protocol", "protocol_version"),
        ("sdk", "sdk_version"),
        ("created", "created_at"),
    ):
        click.echo(f"{label:>9}: {found.get(name) or ''}")
    rows = [
        {"service": s["name"], "type": s["ty"], "handler": h["name"], "kind": h.get("ty", "")}
        for s in found.get("services", [])
        for h in s.get("handlers", [])
    ]
    output.table(
        rows,
        [
            ("service", output.field("service")),
            ("type", output.field("type")),
            ("handler", output.field("handler")),
            ("kind", output.field("kind")),
        ],
    )


@deployments.command("rm")
@click.argument("deployment_id")
@click.option("--force", is_flag=True, help="remove it although invocations still run there (they fail)")
@admin_options
@json_option
def rm(
    deployment_id: str, force: bool, admin_url: str | None, admin_token: str | None, as_json: bool
) -> None:
    """Remove a deployment. Refused while invocations pinned to it have not completed, unless
    --force.

    \b
    Example:
      awaken deployments rm dp_14LsPzYYDtQMZ4bWwoNAVdu
    """
    with client(admin_url, admin_token) as api:
        api.remove_deployment(deployment_id, force=force)
    if as_json:
        output.emit_json({"id": deployment_id, "removed": True})
        return
    click.echo(f"removed {deployment_id}")
