"""`awaken invocations ...`: list, describe, cancel, kill, pause, purge, resume.

cancel, kill and purge take an invocation id or a target, as Restate's CLI does: `svc` (every
invocation of a service), `svc/handler`, `obj/key` (of one key) or `obj/key/handler`. A target
that matches more than one invocation asks first (`--yes` does not).
"""

from __future__ import annotations

import inspect
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import click

from awaken.cli import output
from awaken.cli.errors import REFUSED, USAGE, CliFailure
from awaken.cli.options import admin_options, client, json_option
from awaken.client import Client, HttpError
from awaken.core.durations import parse_duration_ms
from awaken.errors import BadRequest

STATUSES = ("pending", "scheduled", "ready", "running", "backing-off", "suspended", "paused", "completed")
NOT_COMPLETED = tuple(s for s in STATUSES if s != "completed")
PAGE = 1000


@dataclass(frozen=True, slots=True)
class Target:
    service: str
    key: str | None = None
    handler: str | None = None

    def __str__(self) -> str:
        return "/".join(p for p in (self.service, self.key, self.handler) if p is not None)

    def filters(self) -> dict[str, Any]:
        return {"service": self.service, "key": self.key, "handler": self.handler}


def parse_target(text: str, api: Client) -> str | Target:
    """An invocation id as it is, or the Target that `text` names (a two-part `a/b` is a
    handler of service `a`, or key `b` of object `a`: the service's kind says which)."""
    if text.startswith("inv_"):
        return text
    parts = text.split("/")
    if not all(parts) or len(parts) > 3:
        raise CliFailure(
            f"expected an invocation id (inv_1...) or a target svc, svc/handler, obj/key or "
            f"obj/key/handler, not {text!r}",
            USAGE,
        )
    if len(parts) == 1:
        return Target(parts[0])
    if len(parts) == 3:
        return Target(parts[0], parts[1], parts[2])
    try:
        kind = api.get_service(parts[0]).get("ty")
    except HttpError as exc:
        if exc.status == 404:
            raise CliFailure(f"no service {parts[0]!r} is registered", REFUSED) from None
        raise
    # (Restate's shape: "Service", "VirtualObject" or "Workflow")
    return Target(parts[0], handler=parts[1]) if kind == "Service" else Target(parts[0], key=parts[1])


def _ago_ms(value: str | None, option: str) -> int | None:
    if value is None:
        return None
    try:
        return int(time.time() * 1000) - parse_duration_ms(value)
    except BadRequest as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


def _pages(
    api: Client, statuses: tuple[str, ...], filters: dict[str, Any], limit: int | None
) -> Iterator[dict[str, Any]]:
    """The matching invocations, newest first, `limit` at most (None: all)."""
    before: str | None = None
    given = 0
    while True:
        size = PAGE if limit is None else min(PAGE, limit - given)
        page = api.invocations_page(statuses or None, size, before=before, **filters)
        for row in page["invocations"]:
            yield row
            given += 1
        before = page.get("next_page")
        if before is None or (limit is not None and given >= limit):
            return


@click.group()
def invocations() -> None:
    """Invocations: list, describe, cancel, kill, pause, purge, resume.

    \b
    Examples:
      awaken invocations ls --status suspended,backing-off
      awaken invocations ls payments/charge --newer-than 1h
      awaken invocations describe inv_1gdJBtdVEcM942bjcDmb1c1khoaJe11Hbz
      awaken invocations cancel payments/charge --yes
    """


@invocations.command("ls")
@click.argument("target", required=False)
@click.option(
    "--status",
    "statuses",
    multiple=True,
    metavar="STATUS[,STATUS]",
    help=f"only these statuses ({', '.join(STATUSES)}); repeat or separate with commas",
)
@click.option("--service", default=None, help="only this service")
@click.option("--handler", default=None, help="only this handler")
@click.option("--key", default=None, help="only this virtual object or workflow key")
@click.option(
    "--newer-than", default=None, metavar="DURATION", help="created within the last DURATION (10m, 1h, 2d)"
)
@click.option("--older-than", default=None, metavar="DURATION", help="created more than DURATION ago")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--all", "all_rows", is_flag=True, help="every match, however many (pages through them)")
@admin_options
@json_option
def ls(
    target: str | None,
    statuses: tuple[str, ...],
    service: str | None,
    handler: str | None,
    key: str | None,
    newer_than: str | None,
    older_than: str | None,
    limit: int,
    all_rows: bool,
    admin_url: str | None,
    admin_token: str | None,
    as_json: bool,
) -> None:
    """List invocations, newest first, optionally of a TARGET (svc, svc/handler, obj/key,
    obj/key/handler).

    The outcome column says how a completed one ended: succeeded, failed, cancelled or killed;
    `next` is when a scheduled one starts or a backing-off one retries.

    \b
    Examples:
      awaken invocations ls
      awaken invocations ls accounts/alice --status pending
      awaken invocations ls --service payments --older-than 1d --all --json
    """
    chosen = tuple(s.strip() for raw in statuses for s in raw.split(",") if s.strip())
    unknown = [s for s in chosen if s not in STATUSES]
    if unknown:
        raise click.BadParameter(
            f"unknown status {unknown[0]!r}: one of {', '.join(STATUSES)}", param_hint="--status"
        )
    filters: dict[str, Any] = {"service": service, "handler": handler, "key": key}
    filters["created_after_ms"] = _ago_ms(newer_than, "--newer-than")
    filters["created_before_ms"] = _ago_ms(older_than, "--older-than")
    with client(admin_url, admin_token) as api:
        if target is not None:
            named = parse_target(target, api)
            if isinstance(named, str):
                raise CliFailure(f"to see one invocation: awaken invocations describe {named}", USAGE)
            filters.update({k: v for k, v in named.filters().items() if v is not None})
        rows = list(_pages(api, chosen, filters, None if all_rows else limit))
    if as_json:
        output.emit_json(rows)
        return
    output.table(
        rows,
        [
            ("id", output.field("id")),
            ("target", output.field("target")),
            ("status", output.field("status")),
            ("outcome", output.outcome),
            ("attempts", lambda r: str(output.attempts(r))),
            ("created", lambda r: output.when(r.get("created_at"))),
            ("next", output.next_run),
            ("failure", _failure),
        ],
        footer=f"{len(rows)} invocation(s)"
        + ("" if all_rows or len(rows) < limit else f" (the newest {limit}; --all for every one)"),
    )


def _failure(row: dict[str, Any]) -> str:
    """How it failed: its terminal failure if it completed with one, else its last retryable one."""
    failure = row.get("completion_failure")
    if failure:
        return f"{failure.get('code')}: {failure.get('message')}"[:120]
    return str(row.get("last_failure") or "")[:120]


@invocations.command("describe")
@click.argument("invocation_id")
@admin_options
@json_option
def describe(invocation_id: str, admin_url: str | None, admin_token: str | None, as_json: bool) -> None:
    """One invocation: status, outcome, attempts, next retry, last failure, timings, input and
    output, and its journal (every step with what it carried and what came back).

    \b
    Example:
      awaken invocations describe inv_1gdJBtdVEcM942bjcDmb1c1khoaJe11Hbz
    """
    from awaken.cli.describe import render

    with client(admin_url, admin_token) as api:
        inv = api.get_invocation(invocation_id)
    if as_json:
        output.emit_json(inv)
    else:
        render(inv)


# -- acting on invocations ------------------------------------------------------------------------
def _act(api: Client, action: str, invocation_id: str) -> dict[str, Any]:
    match action:
        case "cancel":
            return api.cancel_invocation(invocation_id)
        case "kill":
            return api.cancel_invocation(invocation_id, kill=True)
        case "purge":
            return api.purge_invocation(invocation_id)
        case "pause":
            return api.pause_invocation(invocation_id)
        case _:
            return api.resume_invocation(invocation_id)


def _word(result: dict[str, Any]) -> str:
    return str(result.get("result", ""))


def _targets(api: Client, target: Target, action: str) -> list[str]:
    statuses = ("completed",) if action == "purge" else NOT_COMPLETED
    return [row["id"] for row in _pages(api, statuses, target.filters(), None)]


def _confirm(ids: list[str], action: str, target: Target, yes: bool) -> None:
    if len(ids) <= 1 or yes:
        return
    if not sys.stdin.isatty():
        raise CliFailure(
            f"{len(ids)} invocations of {target} match; pass --yes to {action} them all (no terminal to ask)",
            REFUSED,
        )
    sample = ", ".join(ids[:3]) + (", ..." if len(ids) > 3 else "")
    click.confirm(
        f"{action.capitalize()} {len(ids)} invocations of {target} ({sample})?", abort=True, err=True
    )


def _bulk(api: Client, action: str, ids: list[str], quiet: bool) -> list[dict[str, Any]]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    results: list[dict[str, Any]] = []
    with Progress(
        TextColumn(f"{action} "),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=output.console(stderr=True),
        disable=quiet or not sys.stderr.isatty(),
        transient=True,
    ) as bar:
        task = bar.add_task(action, total=len(ids))
        for invocation_id in ids:
            try:
                results.append(
                    {"invocation_id": invocation_id, "result": _word(_act(api, action, invocation_id))}
                )
            except HttpError as exc:
                results.append({"invocation_id": invocation_id, "error": f"{exc.status}: {exc.message}"})
            bar.advance(task)
    return results


def _run_action(
    action: str, what: str, yes: bool, admin_url: str | None, admin_token: str | None, as_json: bool
) -> None:
    with client(admin_url, admin_token) as api:
        named = parse_target(what, api)
        if isinstance(named, str):  # one id: its answer, or its error
            result = _act(api, action, named)
            if as_json:
                output.emit_json({**result, "result": _word(result)})
            else:
                click.echo(_word(result))
            return
        ids = _targets(api, named, action)
        if not ids:
            if as_json:
                output.emit_json([])
            else:
                click.echo(f"no invocation of {named} to {action}")
            return
        _confirm(ids, action, named, yes)
        results = _bulk(api, action, ids, quiet=as_json)
    failed = [r for r in results if "error" in r]
    if as_json:
        output.emit_json(results)
    else:
        counts: dict[str, int] = {}
        for r in results:
            if "result" in r:
                counts[r["result"]] = counts.get(r["result"], 0) + 1
        done = ", ".join(f"{n} {word}" for word, n in sorted(counts.items())) or "none done"
        click.echo(f"{named}: {done}" + (f", {len(failed)} failed" if failed else ""))
        for r in failed[:20]:
            click.echo(f"  {r['invocation_id']}: {r['error']}", err=True)
    if failed:
        click.get_current_context().exit(REFUSED)


_TARGET_HELP = """\b
INVOCATION is an id (inv_1...) or a target: svc, svc/handler, obj/key or
obj/key/handler (every invocation that matches; asks first if more than one)."""


@invocations.command("cancel")
@click.argument("invocation")
@click.option("--kill", is_flag=True, help="kill instead: end at once, without compensation")
@click.option("--yes", "-y", is_flag=True, help="do not ask before acting on several invocations")
@admin_options
@json_option
def cancel(
    invocation: str, kill: bool, yes: bool, admin_url: str | None, admin_token: str | None, as_json: bool
) -> None:
    """Cancel: one that has not started ends at once (cancelled); a running or suspended one's
    handler gets TerminalError("cancelled", 409) at its next await, and may compensate.

    \b
    Examples:
      awaken invocations cancel inv_1gdJBtdVEcM942bjcDmb1c1khoaJe11Hbz
      awaken invocations cancel payments/charge --yes
    """
    _run_action("kill" if kill else "cancel", invocation, yes, admin_url, admin_token, as_json)


@invocations.command("kill")
@click.argument("invocation")
@click.option("--yes", "-y", is_flag=True, help="do not ask before acting on several invocations")
@admin_options
@json_option
def kill(invocation: str, yes: bool, admin_url: str | None, admin_token: str | None, as_json: bool) -> None:
    """Kill: end at once with 409 killed (and the calls it waits on), no compensation.

    \b
    Examples:
      awaken invocations kill inv_1gdJBtdVEcM942bjcDmb1c1khoaJe11Hbz
      awaken invocations kill accounts/alice -y
    """
    _run_action("kill", invocation, yes, admin_url, admin_token, as_json)


@invocations.command("purge")
@click.argument("invocation")
@click.option("--yes", "-y", is_flag=True, help="do not ask before acting on several invocations")
@admin_options
@json_option
def purge(invocation: str, yes: bool, admin_url: str | None, admin_token: str | None, as_json: bool) -> None:
    """Delete completed invocations now, not at the end of their retention.

    \b
    Examples:
      awaken invocations purge inv_1gdJBtdVEcM942bjcDmb1c1khoaJe11Hbz
      awaken invocations purge payments --yes
    """
    _run_action("purge", invocation, yes, admin_url, admin_token, as_json)


@invocations.command("pause")
@click.argument("invocation_id")
@admin_options
@json_option
def pause(invocation_id: str, admin_url: str | None, admin_token: str | None, as_json: bool) -> None:
    """Pause a running, suspended or backing-off invocation (resume runs it again).

    \b
    Example:
      awaken invocations pause inv_1gdJBtdVEcM942bjcDmb1c1khoaJe11Hbz
    """
    _run_action("pause", _only_id(invocation_id), False, admin_url, admin_token, as_json)


@invocations.command("resume")
@click.argument("invocation_id")
@admin_options
@json_option
def resume(invocation_id: str, admin_url: str | None, admin_token: str | None, as_json: bool) -> None:
    """Run a paused invocation again, with a fresh retry budget.

    \b
    Example:
      awaken invocations resume inv_1gdJBtdVEcM942bjcDmb1c1khoaJe11Hbz
    """
    _run_action("resume", _only_id(invocation_id), False, admin_url, admin_token, as_json)


def _only_id(text: str) -> str:
    if not text.startswith("inv_"):
        raise click.BadParameter(
            f"expected an invocation id (inv_1...), not {text!r}", param_hint="INVOCATION_ID"
        )
    return text


for _command in (cancel, kill, purge):
    _command.help = inspect.cleandoc(_command.help or "") + "\n\n" + _TARGET_HELP
