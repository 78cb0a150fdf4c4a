"""Retry policies: backoff arithmetic and when to stop."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from awaken.core.durations import MAX_DELAY_MS
from awaken.core.effects import Complete, Pause, Retry
from awaken.core.journal import Outcome
from awaken.core.retry import (
    AfterFailure,
    RetryPolicy,
    StepRetryPolicy,
    after_failure,
    transition_after_failure,
)


def test_retry_policy_defaults_are_restates() -> None:
    p = RetryPolicy()
    assert p.initial_interval_ms == 500
    assert p.factor == 2.0
    assert p.max_interval_ms == 60_000
    assert p.max_attempts == 70
    assert p.on_max_attempts == "pause"


def test_retry_policy_delays_double_then_cap() -> None:
    p = RetryPolicy()
    assert [p.delay_ms(a) for a in range(1, 11)] == [
        500,
        1000,
        2000,
        4000,
        8000,
        16_000,
        32_000,
        60_000,
        60_000,
        60_000,
    ]
    assert p.delay_ms(69) == 60_000


def test_retry_policy_attempt_zero_uses_the_initial_interval() -> None:
    assert RetryPolicy().delay_ms(0) == 500


def test_retry_policy_custom_values() -> None:
    p = RetryPolicy(initial_interval_ms=100, factor=3.0, max_interval_ms=1000)
    assert [p.delay_ms(a) for a in range(1, 6)] == [100, 300, 900, 1000, 1000]
    constant = RetryPolicy(initial_interval_ms=250, factor=1.0)
    assert {constant.delay_ms(a) for a in range(1, 100)} == {250}


@given(
    st.integers(min_value=1, max_value=10_000),
    st.floats(min_value=1.0, max_value=10.0),
    st.integers(min_value=1, max_value=3_600_000),
    st.integers(min_value=1, max_value=200),
)
def test_delays_never_shrink_and_never_exceed_the_cap(
    initial: int, factor: float, cap: int, attempts: int
) -> None:
    p = RetryPolicy(initial_interval_ms=initial, factor=factor, max_interval_ms=cap)
    delays = [p.delay_ms(a) for a in range(1, attempts + 1)]
    assert delays == sorted(delays)
    assert all(0 <= d <= cap for d in delays)
    assert delays[0] == min(initial, cap)


def test_exhausted() -> None:
    p = RetryPolicy()
    assert not p.exhausted(0)
    assert not p.exhausted(1)
    assert not p.exhausted(69)
    assert p.exhausted(70)
    assert p.exhausted(71)
    assert RetryPolicy(max_attempts=1).exhausted(1)
    assert not RetryPolicy(max_attempts=3).exhausted(2)


def test_unlimited_attempts_are_never_exhausted() -> None:
    p = RetryPolicy(max_attempts=None)
    assert not any(p.exhausted(a) for a in (0, 1, 70, 10**6))


def test_policies_are_frozen_values() -> None:
    p = RetryPolicy()
    with pytest.raises(AttributeError):
        p.max_attempts = 3  # type: ignore[misc]
    assert p == RetryPolicy()
    assert hash(p) == hash(RetryPolicy())


@pytest.mark.parametrize("policy", [RetryPolicy(max_attempts=None), StepRetryPolicy(max_duration_ms=10**9)])
def test_delay_stays_capped_after_very_many_attempts(policy: RetryPolicy | StepRetryPolicy) -> None:
    assert policy.delay_ms(2000) == policy.max_interval_ms


# -- ctx.run's own policy ----------------------------------------------------------------------


def test_step_policy_defaults() -> None:
    p = StepRetryPolicy()
    assert p.max_attempts is None
    assert p.max_duration_ms is None
    assert [p.delay_ms(a) for a in range(1, 10)] == [50, 100, 200, 400, 800, 1600, 3200, 6400, 10_000]
    assert p.delay_ms(50) == 10_000


def test_step_policy_without_limits_never_gives_up() -> None:
    p = StepRetryPolicy()
    assert not p.gives_up(10**6, 10**12)


def test_step_policy_gives_up_by_attempts() -> None:
    p = StepRetryPolicy(max_attempts=3)
    assert not p.gives_up(1, 0)
    assert not p.gives_up(2, 10**9)
    assert p.gives_up(3, 0)
    assert p.gives_up(4, 0)


def test_step_policy_gives_up_by_duration() -> None:
    p = StepRetryPolicy(max_duration_ms=5_000)
    assert not p.gives_up(10**6, 0)
    assert not p.gives_up(1, 4_999)
    assert p.gives_up(1, 5_000)
    assert p.gives_up(1, 60_000)


@given(
    st.none() | st.integers(min_value=1, max_value=50),
    st.none() | st.integers(min_value=0, max_value=100_000),
    st.integers(min_value=1, max_value=100),
    st.integers(min_value=0, max_value=200_000),
)
def test_step_policy_gives_up_when_either_limit_is_reached(
    max_attempts: int | None, max_duration_ms: int | None, attempts: int, elapsed_ms: int
) -> None:
    p = StepRetryPolicy(max_attempts=max_attempts, max_duration_ms=max_duration_ms)
    by_attempts = max_attempts is not None and attempts >= max_attempts
    by_duration = max_duration_ms is not None and elapsed_ms >= max_duration_ms
    assert p.gives_up(attempts, elapsed_ms) == (by_attempts or by_duration)


# -- how a failed attempt ends -----------------------------------------------------------------
def test_a_failure_is_retried_at_the_policys_time() -> None:
    policy = RetryPolicy(initial_interval_ms=100, factor=2.0, max_attempts=5)
    assert transition_after_failure(policy, 3, 1_000, "boom") == Retry(1_400, "boom")


def test_retry_after_overrides_the_policys_delay_and_is_never_negative() -> None:
    policy = RetryPolicy(initial_interval_ms=100, max_attempts=5)
    assert transition_after_failure(policy, 1, 1_000, "slow down", 5_000) == Retry(6_000, "slow down")
    assert transition_after_failure(policy, 1, 1_000, "now", -7) == Retry(1_000, "now")


def test_exhausted_retries_pause_by_default() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert transition_after_failure(policy, 3, 1_000, "boom", 5) == Pause("boom")


def test_exhausted_retries_that_kill_complete_with_a_500() -> None:
    policy = RetryPolicy(max_attempts=2, on_max_attempts="kill")
    failed = Outcome.fail(500, "retries exhausted: [502] bad gateway")
    assert transition_after_failure(policy, 2, 1_000, "[502] bad gateway") == Complete(failed)
    # a local attempt makes the end itself, adding what its journal tells the store
    made: list[Outcome] = []

    def complete(outcome: Outcome) -> Complete:
        made.append(outcome)
        return Complete(outcome, open_timers=False, open_awakeables=False)

    ended = transition_after_failure(policy, 5, 1_000, "boom", None, complete)
    assert ended == Complete(Outcome.fail(500, "retries exhausted: boom"), False, False)
    assert made == [Outcome.fail(500, "retries exhausted: boom")]


@given(
    st.integers(min_value=1, max_value=200),
    st.one_of(st.none(), st.integers(min_value=1, max_value=100)),
    st.one_of(st.none(), st.integers(min_value=-1000, max_value=10**9)),
    st.sampled_from(["pause", "kill"]),
)
def test_the_transition_follows_the_decision(
    attempts: int, max_attempts: int | None, retry_after: int | None, on_max: str
) -> None:
    policy = RetryPolicy(max_attempts=max_attempts, on_max_attempts=on_max)  # type: ignore[arg-type]
    decision = after_failure(policy, attempts, 10_000, retry_after)
    ended = transition_after_failure(policy, attempts, 10_000, "why", retry_after)
    match decision.action:
        case "retry":
            assert ended == Retry(decision.run_at_ms, "why") and ended.run_at_ms >= 10_000
        case "pause":
            assert ended == Pause("why")
        case "kill":
            assert ended == Complete(Outcome.fail(500, "retries exhausted: why"))


def test_a_retry_delay_past_a_century_is_a_century() -> None:
    # A deployment's next_retry_delay is a u64: the store could not hold now + 2**64 - 1.
    decision = after_failure(RetryPolicy(), 1, 1_000, 2**64 - 1)
    assert decision == AfterFailure("retry", 1_000 + MAX_DELAY_MS)
