"""Prometheus metrics on the admin API (SPEC §9): figures that move with what the engine does."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from awaken.testing import TestEnvironment
from tests.integration.helpers import next_awakeable


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def test_metrics_follow_invocations_steps_and_storage(
    env: TestEnvironment, admin: httpx.AsyncClient
) -> None:
    r = await admin.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain; version=0.0.4")
    before = samples(r.text)

    for i in range(3):
        assert (await env.client.post("/svc/greet", json=f"m{i}")).status_code == 200
    assert (await env.client.post("/svc/approve/send", json="m-wait")).status_code == 202
    await next_awakeable("m-wait")
    after = samples((await admin.get("/metrics")).text)

    assert after[("awaken_invocations", (("status", "completed"),))] == 3
    waiting = (
        after[("awaken_invocations", (("status", "running"),))]
        + after[("awaken_invocations", (("status", "suspended"),))]
    )
    assert waiting == 1
    assert after[("awaken_invocations_completed_total", (("result", "success"),))] == 3
    assert after[("awaken_attempts_total", ())] >= 4
    # one greet step each, and the hand-out step of the waiting one
    steps = after[("awaken_step_duration_seconds_count", ())] - before.get(
        ("awaken_step_duration_seconds_count", ()), 0
    )
    assert steps == 4
    assert after[("awaken_step_duration_seconds_sum", ())] > 0
    batches = after[("awaken_storage_batch_size_count", ())]
    assert (
        batches
        == after[("awaken_storage_batches_committed_total", ())]
        > before.get(("awaken_storage_batch_size_count", ()), 0)
    )
    assert after[("awaken_storage_batch_size_bucket", (("le", "+Inf"),))] == batches
    assert after[("awaken_queue_depth", ())] == 0
