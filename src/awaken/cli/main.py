"""Entry point of the `awaken` command (also `python -m awaken`)."""

from __future__ import annotations

import sys
import threading
from typing import Any

import click

from awaken.cli.awakeables import awakeables
from awaken.cli.deployments import deployments
from awaken.cli.errors import CANNOT_START, EXIT_CODES_HELP, CliFailure, describe
from awaken.cli.invocations import invocations
from awaken.cli.options import ADMIN_URLS, json_option, settings
from awaken.cli.state import state


class AwakenGroup(click.Group):
    """Commands whose expected failures (a server's error answer, no server, bad input) end in
    one line and a documented exit code, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            failure = describe(exc, ctx.meta.get(ADMIN_URLS))
            if failure is None:
                raise
            raise failure from None


@click.group(
    cls=AwakenGroup,
    epilog=EXIT_CODES_HELP
    + '\n\nShell completion: see docs/cli.md (eval "$(_AWAKEN_COMPLETE=bash_source awaken)").',
)
@click.option(
    "--config",
    type=click.Path(dir_okay=False),
    default=None,
    help="settings file [env AWAKEN_CONFIG; default ./awaken.toml if it exists]",
)
@click.version_option(package_name="awaken")
def main(config: str | None) -> None:
    """awaken: durable execution for Python, with Restate's programming model.

    Settings come from flags, then AWAKEN_* environment variables, then awaken.toml.

    \b
    Examples:
      awaken serve examples.payments:app
      awaken invocations ls --status suspended
      awaken awakeables ls
    """


@main.command()
@click.argument("target", required=False)
@click.option("--host", default=None, help="interface of the ingress [default 127.0.0.1]")
@click.option("--port", default=None, type=int, help="ingress port [default 8080; 0: any free one]")
@click.option(
    "--admin-host",
    default=None,
    help="interface of the admin API [default 127.0.0.1, whatever --host says]",
)
@click.option("--admin-port", default=None, type=int, help="admin API port [default 9070; 0: no admin API]")
@click.option(
    "--admin-token",
    default=None,
    metavar="TOKEN",
    help="every admin request must carry 'authorization: Bearer TOKEN' [env AWAKEN_ADMIN_TOKEN]",
)
@click.option("--db", default=None, help="database URL [default sqlite:///awaken.db]")
@click.option(
    "--migrate/--no-migrate",
    default=None,
    help="apply pending schema migrations at start-up [default: --migrate]",
)
@click.option(
    "--suspend-after", type=float, default=None, help="seconds a waiting invocation stays in memory"
)
@click.option(
    "--always-replay",
    is_flag=True,
    default=None,
    help="suspend at every await and resume by replay (a determinism check)",
)
@click.option(
    "--synchronous",
    type=click.Choice(["full", "normal"]),
    default=None,
    help="SQLite durability: full survives power loss, normal only process crashes [default full]",
)
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"], case_sensitive=False),
    default=None,
    help="awaken's, uvicorn's and the app's logs [default info]",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default=None,
    help="log lines as text or as one JSON object each [default text]",
)
@click.option("--json", "as_json", is_flag=True, help="the same as --log-format json")
@click.option(
    "--sqlite-busy-timeout",
    type=click.FloatRange(min=0, max=600),
    default=None,
    metavar="SECONDS",
    help="how long a write waits for a SQLite lock another process holds; then 503 until it is "
    "released [default 2]",
)
@click.option(
    "--max-inflight-bodies",
    type=click.IntRange(min=1),
    default=None,
    metavar="BYTES",
    help="request body bytes the ingress holds at once, all requests together; past it 503 "
    "[default 134217728]",
)
@click.option(
    "--lease",
    type=click.FloatRange(min=0.1),
    default=None,
    metavar="SECONDS",
    help="how long a node's claim on an invocation lasts unrenewed; past it other nodes take over "
    "(PostgreSQL) [default 3]",
)
@click.option(
    "--shutdown-grace",
    type=float,
    default=None,
    metavar="SECONDS",
    help="stop within this long after SIGINT/SIGTERM [default 5]",
)
@click.option(
    "--request-identity-key",
    "identity_key",
    type=click.Path(dir_okay=False),
    default=None,
    metavar="PEM",
    help="ed25519 key that signs requests to deployments, as Restate's request identity "
    "[env AWAKEN_REQUEST_IDENTITY_PRIVATE_KEY_PEM_FILE]",
)
def serve(
    target: str | None,
    host: str | None,
    port: int | None,
    admin_host: str | None,
    admin_port: int | None,
    admin_token: str | None,
    db: str | None,
    migrate: bool | None,
    suspend_after: float | None,
    always_replay: bool | None,
    synchronous: str | None,
    log_level: str | None,
    log_format: str | None,
    as_json: bool,
    sqlite_busy_timeout: float | None,
    max_inflight_bodies: int | None,
    lease: float | None,
    shutdown_grace: float | None,
    identity_key: str | None,
) -> None:
    """Serve MODULE:APP (an app made with awaken.app) on the ingress and admin ports; without
    MODULE:APP, serve only the deployments registered with `awaken deployments register`.

    The ready line ("serving ...") comes once both ports listen. SIGINT or SIGTERM stops it
    within --shutdown-grace seconds: requests still waiting get 503, running invocations go on at
    the next start; a second signal exits at once. --json is --log-format json.

    \b
    Examples:
      awaken serve examples.payments:app
      awaken serve app:app --host 0.0.0.0 --admin-token "$(cat token)"
      AWAKEN_DB=sqlite:///data/awaken.db awaken serve app:app --log-format json
      awaken serve --request-identity-key private.pem   # deployments only, signed requests
    """
    import asyncio
    import logging

    from awaken.application import AwakenApp
    from awaken.cli.serve import StartupError, load_app
    from awaken.cli.serve import serve as run
    from awaken.observability.logs import configure_logging
    from awaken.protocol import IdentityKeyError, SigningKey

    chosen = settings(
        host=host,
        port=port,
        admin_host=admin_host,
        admin_port=admin_port,
        admin_token=admin_token,
        db=db,
        migrate=migrate,
        suspend_after=suspend_after,
        always_replay=always_replay,
        sqlite_synchronous=synchronous,
        sqlite_busy_timeout=sqlite_busy_timeout,
        max_inflight_bodies=max_inflight_bodies,
        log_level=log_level.lower() if log_level else None,
        log_format="json" if as_json else log_format,
        lease=lease,
        shutdown_grace=shutdown_grace,
    )
    configure_logging(chosen.log_level, chosen.log_format)
    try:
        try:
            app = load_app(target) if target is not None else AwakenApp([])
        except StartupError:
            raise
        except Exception:  # the app's own code failed: its traceback is what helps
            logging.getLogger("awaken.serve").exception("cannot load %s: importing it failed", target)
            raise StartupError(f"cannot load {target} (see above)") from None
        if isinstance(app, AwakenApp):
            # What the flags say beats the app's keywords; the rest the app resolves itself
            # (its keywords, then the environment and the settings file).
            app.configure(
                db=db,
                suspend_after=suspend_after,
                synchronous=synchronous,
                always_replay=always_replay,
                migrate=migrate,
                lease_ms=None if lease is None else int(lease * 1000),
                sqlite_busy_timeout=sqlite_busy_timeout,
                max_inflight_bodies=max_inflight_bodies,
            )
            if identity_key is not None:
                try:
                    app.configure(signing_key=SigningKey.from_pem_file(identity_key))
                except IdentityKeyError as exc:
                    raise StartupError(str(exc)) from None
        try:
            import uvloop

            uvloop.install()
        except ImportError:
            pass
        code = asyncio.run(run(app, chosen, target or "deployments only"))
    except StartupError as exc:
        raise CliFailure(str(exc), CANNOT_START) from None
    if code:
        raise SystemExit(code)
    # The engine has stopped and the store is closed. A ctx.run function still blocking in a
    # step thread must not keep the process alive: its invocation resumes at the next start.
    if any(t.name.startswith("awaken-step") and t.is_alive() for t in threading.enumerate()):
        from awaken.cli.shutdown import _exit

        click.echo("awaken: exiting with step functions still running", err=True)
        _exit(0)


@main.command()
@click.option("--db", default=None, help="database URL [env AWAKEN_DB; default sqlite:///awaken.db]")
@json_option
def migrate(db: str | None, as_json: bool) -> None:
    """Create or upgrade the database schema (awaken serve also does it at start-up, unless
    --no-migrate), and print the schema version reached.

    \b
    Examples:
      awaken migrate
      awaken migrate --db sqlite:///data/awaken.db --json
    """
    from awaken.cli.migrate import migrate as run
    from awaken.cli.migrate import redacted
    from awaken.cli.output import emit_json

    result = run(settings(db=db).db)
    if as_json:
        emit_json({"db": redacted(result.db), "version": result.version, "applied": result.applied})
    elif result.applied:
        applied = ", ".join(str(v) for v in result.applied)
        click.echo(f"schema of {redacted(result.db)} is at version {result.version} (applied now: {applied})")
    else:
        click.echo(f"schema of {redacted(result.db)} is at version {result.version} (up to date)")


main.add_command(invocations)
main.add_command(awakeables)
main.add_command(deployments)
main.add_command(state)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
