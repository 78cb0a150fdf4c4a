"""Entry point of the `awaken` command."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
from typing import Any

import click

from awaken.application import AwakenApp


@click.group()
@click.version_option(package_name="awaken")
def main() -> None:
    """awaken: durable execution for Python."""


@main.command()
@click.argument("target")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int, help="ingress port")
@click.option("--admin-port", default=9070, show_default=True, type=int, help="admin API port (0: off)")
@click.option("--db", default=None, help="database URL [default: sqlite:///awaken.db]")
@click.option(
    "--suspend-after", type=float, default=None, help="seconds a waiting invocation stays in memory"
)
@click.option(
    "--always-replay", is_flag=True, default=False, help="suspend at every await (determinism check)"
)
@click.option(
    "--synchronous",
    type=click.Choice(["full", "normal"]),
    default=None,
    help="SQLite durability: full survives power loss, normal only process crashes",
)
@click.option("--log-level", default="warning", show_default=True)
def serve(
    target: str,
    host: str,
    port: int,
    admin_port: int,
    db: str | None,
    suspend_after: float | None,
    always_replay: bool,
    synchronous: str | None,
    log_level: str,
) -> None:
    """Serve MODULE:APP (an app made with awaken.app) on the ingress port."""
    from awaken.cli.serve import load_app
    from awaken.cli.serve import serve as run_servers

    try:
        app = load_app(target)
    except (ImportError, AttributeError, ValueError) as exc:
        raise click.ClickException(f"cannot load {target}: {exc}") from exc
    if isinstance(app, AwakenApp):
        app.configure(
            db=db,
            suspend_after=suspend_after,
            synchronous=synchronous,
            always_replay=True if always_replay else None,
        )
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(run_servers(app, host, port, admin_port or None, log_level))
    # The engine has stopped and the store is closed. A ctx.run function still blocking in a
    # step thread must not keep the process alive: its invocation resumes at the next start.
    if any(t.name.startswith("awaken-step") and t.is_alive() for t in threading.enumerate()):
        click.echo("awaken: exiting with step functions still running", err=True)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


@main.command()
@click.option("--db", default="sqlite:///awaken.db", show_default=True)
def migrate(db: str) -> None:
    """Create or upgrade the database schema."""
    from awaken.storage import open_store

    async def run() -> None:
        store = open_store(db)
        await store.open()
        await store.close()

    asyncio.run(run())
    click.echo(f"schema of {db} is up to date")


@main.group()
def awakeables() -> None:
    """Pending awakeables: list, resolve, reject."""


def _print(rows: list[dict[str, Any]], columns: list[str], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(*columns)
    for row in rows:
        table.add_row(*(str(row.get(c, "")) if row.get(c) is not None else "" for c in columns))
    Console().print(table)


@awakeables.command("ls")
@click.option("--admin-url", default="http://127.0.0.1:9070", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.option("--limit", default=100, show_default=True)
def awakeables_ls(admin_url: str, as_json: bool, limit: int) -> None:
    """List pending awakeables."""
    from awaken.client import Client

    with Client(admin_url=admin_url) as client:
        rows = client.list_awakeables(limit=limit)
    _print(rows, ["id", "invocation_id", "service", "handler", "key", "created_at", "deadline"], as_json)


@awakeables.command("resolve")
@click.argument("awakeable_id")
@click.argument("payload", default="null")
@click.option("--url", default="http://127.0.0.1:8080", show_default=True)
def awakeables_resolve(awakeable_id: str, payload: str, url: str) -> None:
    """Resolve an awakeable with a JSON PAYLOAD."""
    from awaken.client import Client

    with Client(url) as client:
        click.echo(client.resolve_awakeable(awakeable_id, json.loads(payload)))


@awakeables.command("reject")
@click.argument("awakeable_id")
@click.argument("reason")
@click.option("--url", default="http://127.0.0.1:8080", show_default=True)
def awakeables_reject(awakeable_id: str, reason: str, url: str) -> None:
    """Reject an awakeable with a REASON (the handler gets TerminalError(reason, 500))."""
    from awaken.client import Client

    with Client(url) as client:
        click.echo(client.reject_awakeable(awakeable_id, reason))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
