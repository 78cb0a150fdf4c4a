"""restate-sdk's `restate.harness`: the test harness, on awaken's in-process engine (no Docker)."""

from __future__ import annotations

from awaken.testing.restate_harness import RestateTestHarness, create_test_harness, test_harness

__all__ = ["RestateTestHarness", "create_test_harness", "test_harness"]
