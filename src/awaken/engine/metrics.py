"""Prometheus metrics of one engine (SPEC §9), served by the admin API at `/metrics`.

Counters and histograms are updated where things happen (attempts, steps); the figures that live
in the store (invocations by status, the writer's batches) are read when the metrics are
scraped. Each engine has its own registry, so several apps in one process do not mix.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from awaken.storage.protocol import Status

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _Scraped(Collector):
    """Figures read at scrape time: invocations by status, attempts in memory, storage batches."""

    def __init__(self) -> None:
        self.counts: Mapping[Status, int] = {}
        self.live = 0
        self.storage: Mapping[str, Any] = {}

    def collect(self) -> Iterable[Any]:
        by_status = GaugeMetricFamily(
            "awaken_invocations", "Invocations in the store, by status", labels=["status"]
        )
        for status in Status:
            by_status.add_metric([status.value], self.counts.get(status, 0))
        yield by_status
        yield GaugeMetricFamily(
            "awaken_queue_depth",
            "Invocations waiting behind a key lock (pending)",
            value=self.counts.get(Status.PENDING, 0),
        )
        yield GaugeMetricFamily(
            "awaken_suspended",
            "Suspended invocations (no memory, no process)",
            value=self.counts.get(Status.SUSPENDED, 0),
        )
        yield GaugeMetricFamily(
            "awaken_attempts_in_memory", "Attempts running in this process", value=self.live
        )
        storage = self.storage
        if "batch_size_buckets" in storage:
            bounds, counts = storage["batch_size_bounds"], storage["batch_size_buckets"]
            cumulative, total = [], 0
            for bound, count in zip([*map(str, bounds), "+Inf"], counts, strict=True):
                total += count
                cumulative.append((bound, total))
            yield HistogramMetricFamily(
                "awaken_storage_batch_size",
                "Writes per storage transaction (group commit)",
                buckets=cumulative,
                sum_value=storage.get("ops_in_batches", 0),
            )
        for key, help_text in (
            ("batches_committed", "Storage transactions committed"),
            ("ops_failed", "Storage writes that failed"),
            ("syncs", "fsyncs of the write-ahead log"),
            ("checkpoints", "Checkpoints of the write-ahead log"),
            ("recoveries", "Times the storage reopened its connections after a fault"),
        ):
            if key in storage:
                yield CounterMetricFamily(f"awaken_storage_{key}", help_text, value=storage[key])


class EngineMetrics(Collector):
    """The engine's own figures as plain numbers (updating them costs next to nothing on the
    hot path), turned into Prometheus metrics when scraped."""

    def __init__(self) -> None:
        self.attempts = 0
        self.completed_ok = 0
        self.completed_failed = 0
        self.taken_over = 0  # invocations claimed from nodes whose lease expired
        self.attempts_lost = 0  # attempts stopped here because another attempt owns their invocation
        self._step_buckets = [0] * (len(STEP_BOUNDS) + 1)
        self._step_count = 0
        self._step_sum = 0.0
        self._scraped = _Scraped()
        self.registry = CollectorRegistry()
        self.registry.register(self)
        self.registry.register(self._scraped)

    def step(self, seconds: float) -> None:
        self._step_buckets[bisect.bisect_left(STEP_BOUNDS, seconds)] += 1
        self._step_count += 1
        self._step_sum += seconds

    def collect(self) -> Iterable[Any]:
        yield CounterMetricFamily(
            "awaken_attempts", "Attempts started (first runs, resumptions, retries)", value=self.attempts
        )
        completed = CounterMetricFamily(
            "awaken_invocations_completed", "Invocations completed, by result", labels=["result"]
        )
        completed.add_metric(["success"], self.completed_ok)
        completed.add_metric(["failure"], self.completed_failed)
        yield completed
        yield CounterMetricFamily(
            "awaken_taken_over",
            "Invocations this node took over from nodes whose lease had expired",
            value=self.taken_over,
        )
        yield CounterMetricFamily(
            "awaken_attempts_lost",
            "Attempts stopped because their invocation moved on (taken over, paused, killed elsewhere)",
            value=self.attempts_lost,
        )
        cumulative, total = [], 0
        for bound, count in zip([*map(str, STEP_BOUNDS), "+Inf"], self._step_buckets, strict=True):
            total += count
            cumulative.append((bound, total))
        yield HistogramMetricFamily(
            "awaken_step_duration_seconds",
            "Time from a ctx.run function's start to its result (retries in place included)",
            buckets=cumulative,
            sum_value=self._step_sum,
        )

    def render(self, counts: Mapping[Status, int], live: int, storage: Mapping[str, Any]) -> bytes:
        """The Prometheus text format, with the store's figures as given."""
        self._scraped.counts, self._scraped.live, self._scraped.storage = counts, live, storage
        return generate_latest(self.registry)


STEP_BOUNDS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)
