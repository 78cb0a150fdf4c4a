"""Running a ctx.run function: durability before it starts, retries in place (counted in the
journal, so that they survive a crash), and its outcome into the machine."""

from __future__ import annotations

import asyncio
import functools
import inspect
import typing
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from awaken.core.journal import Outcome
from awaken.core.machine import InvocationMachine
from awaken.core.retry import StepRetryPolicy
from awaken.errors import TerminalError
from awaken.sdk.context import RunOptions
from awaken.sdk.driver import AttemptDriver
from awaken.sdk.serde import Serde


def ms(delta: timedelta) -> int:
    return int(delta.total_seconds() * 1000)


@functools.lru_cache(maxsize=1024)
def return_hint(fn: Callable[..., Any]) -> Any:
    try:
        return typing.get_type_hints(fn).get("return")
    except Exception:
        return None


def step_policy(options: RunOptions[Any]) -> StepRetryPolicy | None:
    duration = options.max_duration or options.max_retry_duration
    fields = (
        options.max_attempts,
        duration,
        options.initial_retry_interval,
        options.max_retry_interval,
        options.retry_interval_factor,
    )
    if all(f is None for f in fields):
        return None
    return StepRetryPolicy(
        max_attempts=options.max_attempts,
        max_duration_ms=ms(duration) if duration is not None else None,
        initial_interval_ms=ms(options.initial_retry_interval) if options.initial_retry_interval else 50,
        factor=options.retry_interval_factor or 2.0,
        max_interval_ms=ms(options.max_retry_interval) if options.max_retry_interval else 10_000,
    )


async def run_step(
    machine: InvocationMachine,
    driver: AttemptDriver,
    index: int,
    name: str,
    action: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    serde: Serde[Any],
    policy: StepRetryPolicy | None,
) -> None:
    """The body of the task that runs step `index`: its function, retried in place under
    `policy` (or failing the attempt without one), and its outcome into the machine."""
    if machine.has_dirty_before(index) and not await _flush_or_fail(driver):
        return  # everything journaled before a step is durable first
    # Retries of earlier attempts (before a crash, say) count: their number is journaled.
    retried = machine.entry(index).data
    attempt = int(retried.get("attempts", 0))
    started = int(retried.get("first_attempt_at") or driver.now_ms())
    while True:
        attempt += 1
        try:
            if inspect.iscoroutinefunction(action):
                result = await action(*args, **kwargs)
            else:
                result = await driver.run_blocking(functools.partial(action, *args, **kwargs))
                if inspect.isawaitable(result):
                    result = await result
            outcome = Outcome(serde.serialize(result))
        except TerminalError as exc:
            outcome = Outcome.fail(exc.status_code, exc.message)
        except Exception as exc:
            if policy is None:
                driver.fail_attempt(exc)
                return
            if policy.gives_up(attempt, driver.now_ms() - started):
                message = f"ctx.run {name!r} failed after {attempt} attempts: {exc}"
                outcome = Outcome.fail(500, message)
            else:
                failure = {
                    "attempts": attempt,
                    "first_attempt_at": started,
                    "last_failure": str(exc)[:1000],
                }
                machine.annotate(index, failure)
                if not await _flush_or_fail(driver):
                    return
                await asyncio.sleep(policy.delay_ms(attempt) / 1000)
                continue
        machine.complete(index, outcome, durable=False)
        driver.step_done(index)
        return


async def _flush_or_fail(driver: AttemptDriver) -> bool:
    """Flush from a step; if the store fails, the attempt fails (the handler waits on us)."""
    try:
        await driver.flush()
    except Exception as exc:
        driver.fail_attempt(exc)
        return False
    return True
