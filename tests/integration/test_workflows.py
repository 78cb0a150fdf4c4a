from __future__ import annotations

from awaken.testing import TestEnvironment
from tests.integration import apps


async def test_workflow_main_runs_once_per_key(env: TestEnvironment) -> None:
    first = await env.client.post("/signup/u1/run", json="a@example.com")
    assert first.status_code == 200 and first.json() == "welcome a@example.com"
    again = await env.client.post("/signup/u1/run", json="b@example.com")
    assert again.status_code == 409
    assert again.json()["message"] == "the workflow method was already invoked"
    assert again.headers["x-restate-id"] == first.headers["x-restate-id"]
    sent = await env.client.post("/signup/u1/run/send", json="c@example.com")
    assert sent.status_code == 202 and sent.json()["status"] == "PreviouslyAccepted"
    assert apps.EFFECTS["signup:u1"] == 1
    out = await env.client.get("/restate/workflow/signup/u1/output")
    assert out.status_code == 200 and out.json() == "welcome a@example.com"
    attached = await env.client.get("/restate/workflow/signup/u1/attach")
    assert attached.json() == "welcome a@example.com"
    assert (await env.client.post("/signup/u1/email")).json() == "a@example.com"


async def test_workflow_rejects_idempotency_keys_and_unknown_outputs(env: TestEnvironment) -> None:
    r = await env.client.post("/signup/u2/run", json="x", headers={"idempotency-key": "k"})
    assert r.status_code == 400
    assert (await env.client.get("/restate/workflow/signup/nobody/output")).status_code == 404
    assert (await env.client.get("/restate/workflow/nope/u2/output")).status_code == 404
