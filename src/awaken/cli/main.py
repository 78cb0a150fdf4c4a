"""Entry point of the `awaken` command."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
from datetime import UTC, datetime
from typing import Any

import click

from awaken.application import AwakenApp
from awaken.errors import StorageError


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
@click.option(
    "--no-migrate", is_flag=True, default=False, help="refuse to start on an old schema instead of migrating"
)
@click.option(
    "--lease",
    type=click.FloatRange(min=0.1),
    default=None,
    help="seconds a node's claim on an invocation lasts unrenewed (PostgreSQL) [default: 3]",
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
    no_migrate: bool,
    lease: float | None,
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
            migrate=False if no_migrate else None,
            lease_ms=int(lease * 1000) if lease is not None else None,
        )
    where = f"http://{host}:{port}" + (f", admin API on http://{host}:{admin_port}" if admin_port else "")
    from awaken.storage import redact_url

    database = redact_url(db or os.environ.get("AWAKEN_DB") or "sqlite:///awaken.db")
    click.echo(f"awaken: serving {target} on {where} (database {database})", err=True)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    code = asyncio.run(run_servers(app, host, port, admin_port or None, log_level))
    if code:
        raise SystemExit(code)
    # The engine has stopped and the store is closed. A ctx.run function still blocking in a
    # step thread must not keep the process alive: its invocation resumes at the next start.
    if any(t.name.startswith("awaken-step") and t.is_alive() for t in threading.enumerate()):
        click.echo("awaken: exiting with step functions still running", err=True)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


@main.command()
@click.option("--db", default=None, help="database URL [default: $AWAKEN_DB or sqlite:///awaken.db]")
def migrate(db: str | None) -> None:
    """Create or upgrade the database schema (safe while other nodes start or run)."""
    from awaken.storage import open_store, redact_url

    url = db or os.environ.get("AWAKEN_DB") or "sqlite:///awaken.db"

    async def run() -> int:
        store = open_store(url)
        await store.open()
        try:
            return store.version
        finally:
            await store.close()

    try:
        version = asyncio.run(run())
    except (StorageError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"schema of {redact_url(url)} is at version {version}")


@main.group()
def awakeables() -> None:
    """Pending awakeables: list, resolve, reject."""


def _time(ms: Any) -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _print(rows: list[dict[str, Any]], columns: list[str], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table()
    for column in columns:
        # ids are never cut: people copy them into curl commands
        table.add_column(column, no_wrap=column.endswith("id"), overflow="fold")
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column)
            if column in ("created_at", "deadline"):
                cells.append(_time(value))
            else:
                cells.append("" if value is None else str(value))
        table.add_row(*cells)
    console = Console() if sys.stdout.isatty() else Console(width=250)
    console.print(table)
    console.print(f"{len(rows)} row(s)")


@awakeables.command("ls")
@click.option("--admin-url", default="http://127.0.0.1:9070", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.option("--limit", default=100, show_default=True)
def awakeables_ls(admin_url: str, as_json: bool, limit: int) -> None:
    """List pending awakeables."""
    from awaken.client import Client

    with Client(admin_url=admin_url) as client:
        rows = client.list_awakeables(limit=limit)
    for row in rows:
        row["target"] = "/".join(p for p in (row.get("service"), row.get("key"), row.get("handler")) if p)
    _print(rows, ["id", "invocation_id", "target", "created_at", "deadline"], as_json)


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


@main.group()
def invocations() -> None:
    """Invocations: list, describe, cancel, kill, pause, purge, resume."""


_ADMIN = click.option("--admin-url", default="http://127.0.0.1:9070", show_default=True)


def _admin_call(admin_url: str, method: str, *args: Any, **kwargs: Any) -> Any:
    from awaken.client import Client, HttpError

    with Client(admin_url=admin_url) as client:
        try:
            return getattr(client, method)(*args, **kwargs)
        except HttpError as exc:
            message = exc.body.get("message") if isinstance(exc.body, dict) else exc.body
            raise click.ClickException(f"{exc.status}: {message}") from None


@invocations.command("ls")
@_ADMIN
@click.option("--status", default=None, help="only invocations in this status")
@click.option("--json", "as_json", is_flag=True)
@click.option("--limit", default=100, show_default=True)
def invocations_ls(admin_url: str, status: str | None, as_json: bool, limit: int) -> None:
    """List invocations, newest first."""
    rows = _admin_call(admin_url, "list_invocations", status=status, limit=limit)
    _print(rows, ["id", "target", "status", "created_at", "attempts", "last_failure"], as_json)


@invocations.command("describe")
@_ADMIN
@click.argument("invocation_id")
def invocations_describe(admin_url: str, invocation_id: str) -> None:
    """An invocation and its journal, as JSON."""
    click.echo(json.dumps(_admin_call(admin_url, "get_invocation", invocation_id), indent=2))


@invocations.command("cancel")
@_ADMIN
@click.argument("invocation_id")
@click.option("--kill", is_flag=True, help="end it at once, without compensation")
def invocations_cancel(admin_url: str, invocation_id: str, kill: bool) -> None:
    """Cancel an invocation: its handler gets TerminalError("cancelled", 409) at its next await."""
    click.echo(_admin_call(admin_url, "cancel_invocation", invocation_id, kill=kill)["result"])


@invocations.command("kill")
@_ADMIN
@click.argument("invocation_id")
def invocations_kill(admin_url: str, invocation_id: str) -> None:
    """Kill an invocation (and the calls it waits on): it ends at once with 409 killed."""
    click.echo(_admin_call(admin_url, "cancel_invocation", invocation_id, kill=True)["result"])


@invocations.command("purge")
@_ADMIN
@click.argument("invocation_id")
def invocations_purge(admin_url: str, invocation_id: str) -> None:
    """Delete a completed invocation now."""
    click.echo(_admin_call(admin_url, "purge_invocation", invocation_id)["result"])


@invocations.command("pause")
@_ADMIN
@click.argument("invocation_id")
def invocations_pause(admin_url: str, invocation_id: str) -> None:
    """Pause a running invocation (resume runs it again)."""
    click.echo(_admin_call(admin_url, "pause_invocation", invocation_id)["result"])


@invocations.command("resume")
@_ADMIN
@click.argument("invocation_id")
def invocations_resume(admin_url: str, invocation_id: str) -> None:
    """Run a paused invocation again."""
    click.echo(_admin_call(admin_url, "resume_invocation", invocation_id)["result"])


@main.group()
def state() -> None:
    """The state of virtual object and workflow keys: get, set."""


@state.command("get")
@_ADMIN
@click.argument("service")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True)
def state_get(admin_url: str, service: str, key: str, as_json: bool) -> None:
    """The state of SERVICE/KEY."""
    values = _admin_call(admin_url, "get_state", service, key)
    rows = [{"name": name, "value": json.dumps(value)} for name, value in values.items()]
    if as_json:
        click.echo(json.dumps(values, indent=2))
    else:
        _print(rows, ["name", "value"], False)


@state.command("set")
@_ADMIN
@click.argument("service")
@click.argument("key")
@click.argument("name")
@click.argument("value")
def state_set(admin_url: str, service: str, key: str, name: str, value: str) -> None:
    """Set NAME of SERVICE/KEY to the JSON VALUE (refused while an invocation holds the key)."""
    try:
        parsed = json.loads(value)
    except ValueError as exc:
        raise click.ClickException(f"VALUE must be JSON: {exc}") from None
    values = _admin_call(admin_url, "get_state", service, key)
    values[name] = parsed
    _admin_call(admin_url, "replace_state", service, key, values)
    click.echo(f"{service}/{key}: {name} set")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
