"""The in-process benchmark keeps working (its figures are not checked: timing goals live in
benchmarks/, not in tests)."""

from __future__ import annotations

from benchmarks.inprocess import main


async def test_inprocess_benchmark_runs_and_reports() -> None:
    result = await main(calls=100, synchronous="normal")
    assert result["calls"] == 100 and result["concurrency"] == 64
    assert result["cpu_us_per_call"] > 0 and result["wall_us_per_call"] > 0
