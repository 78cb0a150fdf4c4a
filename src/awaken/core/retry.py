"""Retry policies and backoff arithmetic, and what a failed attempt leads to (pure)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from awaken.core.durations import MAX_DELAY_MS
from awaken.core.effects import Complete, Pause, Retry
from awaken.core.journal import Outcome


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When and how often a failed attempt is retried. Defaults are Restate's."""

    initial_interval_ms: int = 500
    factor: float = 2.0
    max_interval_ms: int = 60_000
    max_attempts: int | None = 70  # None: unlimited
    on_max_attempts: Literal["pause", "kill"] = "pause"

    def delay_ms(self, attempt: int) -> int:
        """Delay before attempt number `attempt + 1`, where `attempt` >= 1 attempts have failed."""
        return _capped(self.initial_interval_ms, self.factor, attempt, self.max_interval_ms)

    def exhausted(self, attempts: int) -> bool:
        return self.max_attempts is not None and attempts >= self.max_attempts


@dataclass(frozen=True, slots=True)
class AfterFailure:
    """What a failed attempt leads to: `retry` at `run_at_ms`, `pause`, or `kill` (the
    invocation fails terminally). One decision for local and remote attempts alike."""

    action: Literal["retry", "pause", "kill"]
    run_at_ms: int = 0


def after_failure(
    policy: RetryPolicy, attempts: int, now_ms: int, retry_after_ms: int | None = None
) -> AfterFailure:
    """The decision after the `attempts`-th failed attempt; `retry_after_ms` (a RetryableError's,
    or a deployment's `next_retry_delay`) overrides the policy's delay once."""
    if policy.exhausted(attempts):
        return AfterFailure("kill" if policy.on_max_attempts == "kill" else "pause")
    # (a deployment's next_retry_delay is a u64: past a century it is no delay a clock reaches)
    delay = policy.delay_ms(attempts) if retry_after_ms is None else min(max(0, retry_after_ms), MAX_DELAY_MS)
    return AfterFailure("retry", now_ms + delay)


def transition_after_failure(
    policy: RetryPolicy,
    attempts: int,
    now_ms: int,
    failure: str,
    retry_after_ms: int | None = None,
    complete: Callable[[Outcome], Complete] = Complete,
) -> Retry | Pause | Complete:
    """How the `attempts`-th failed attempt ends, `failure` saying why: Retry at the policy's
    time (or `retry_after_ms` from now), Pause, or, when the policy kills, Complete with a 500
    "retries exhausted" failure, made by `complete` (an attempt that knows its journal passes
    one that adds the store's clean-up hints). Local and remote attempts both end failures here."""
    decision = after_failure(policy, attempts, now_ms, retry_after_ms)
    if decision.action == "kill":
        return complete(Outcome.fail(500, f"retries exhausted: {failure}"))
    if decision.action == "pause":
        return Pause(failure)
    return Retry(decision.run_at_ms, failure)


@dataclass(frozen=True, slots=True)
class StepRetryPolicy:
    """ctx.run's own retries (RunOptions). Defaults are the Restate SDK's when any option is set."""

    max_attempts: int | None = None
    max_duration_ms: int | None = None
    initial_interval_ms: int = 50
    factor: float = 2.0
    max_interval_ms: int = 10_000

    def delay_ms(self, attempt: int) -> int:
        return _capped(self.initial_interval_ms, self.factor, attempt, self.max_interval_ms)

    def gives_up(self, attempts: int, elapsed_ms: int) -> bool:
        if self.max_attempts is not None and attempts >= self.max_attempts:
            return True
        return self.max_duration_ms is not None and elapsed_ms >= self.max_duration_ms


def _capped(initial_ms: int, factor: float, attempt: int, cap_ms: int) -> int:
    """initial * factor^(attempt-1), capped, without overflowing for huge attempt numbers."""
    delay = float(initial_ms)
    for _ in range(max(0, attempt - 1)):
        delay *= factor
        if delay >= cap_ms:
            return cap_ms
    return int(min(delay, cap_ms))
