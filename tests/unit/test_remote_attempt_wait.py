"""How long a remote attempt waits for the SDK's next message (engine/remote_attempt.py)."""

from __future__ import annotations

import pytest

from awaken.engine.remote_attempt import receive_wait


def test_the_silence_allowed_bounds_the_wait_when_nothing_waits_for_a_write() -> None:
    assert receive_wait(100.0, 30.0, None) == (30.0, False)


def test_a_pending_write_due_first_bounds_the_wait_and_its_timeout_means_write() -> None:
    # (the driver then writes without asking the clock whether the deadline passed: the loop's
    # timer may fire a little before the clock reaches it, and a timeout taken for the endpoint's
    # silence failed the attempt)
    wait, write_first = receive_wait(100.0, 30.0, 100.1)
    assert wait == pytest.approx(0.1) and write_first
    assert receive_wait(100.0, 30.0, 99.0) == (0.0, True)  # overdue: write at once


def test_a_write_due_after_the_silence_allowed_does_not_bound_the_wait() -> None:
    assert receive_wait(100.0, 0.05, 100.1) == (0.05, False)
