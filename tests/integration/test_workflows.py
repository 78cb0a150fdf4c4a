from __future__ import annotations

from awaken.testing import TestEnvironment
from tests.integration import apps
from tests.integration.helpers import eventually


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


async def test_promise_resolved_by_a_shared_handler_resumes_the_main_handler(env: TestEnvironment) -> None:
    sent = await env.client.post("/review/d1/run/send", json="draft")
    assert sent.status_code == 202
    looked = await eventually(
        lambda: env.client.post("/review/d1/look"), lambda r: r.json()["doc"] == "draft"
    )
    assert looked.json() == {"verdict": None, "doc": "draft"}  # the main handler waits on it
    decided = await env.client.post("/review/d1/decide", json="approved")
    assert decided.status_code == 200 and decided.json() == "decided approved"
    out = await env.client.get("/restate/workflow/review/d1/attach")
    assert out.status_code == 200
    assert out.json() == {"doc": "draft", "before": None, "verdict": "approved"}
    assert (await env.client.post("/review/d1/look")).json() == {"verdict": "approved", "doc": "draft"}
    # A promise completes once: a second resolution (or a rejection) is a 409 in the handler.
    again = await env.client.post("/review/d1/decide", json="approved")
    assert again.status_code == 409 and again.json()["message"] == "promise was already completed"
    refused = await env.client.post("/review/d1/refuse", json="late")
    assert refused.status_code == 409
    assert apps.EFFECTS["review:d1"] == 1


async def test_promise_completed_before_the_main_handler_awaits_it(env: TestEnvironment) -> None:
    decided = await env.client.post("/review/d2/decide", json="early")
    assert decided.status_code == 200
    run = await env.client.post("/review/d2/run", json="doc")
    assert run.status_code == 200
    assert run.json() == {"doc": "doc", "before": "early", "verdict": "early"}


async def test_rejected_promise_raises_a_terminal_error_in_the_main_handler(env: TestEnvironment) -> None:
    sent = await env.client.post("/review/d3/run/send", json="draft")
    assert sent.status_code == 202
    await eventually(lambda: env.client.post("/review/d3/look"), lambda r: r.json()["doc"] == "draft")
    refused = await env.client.post("/review/d3/refuse", json="not good enough")
    assert refused.status_code == 200 and refused.json() == "refused"
    out = await env.client.get("/restate/workflow/review/d3/attach")
    assert out.status_code == 403
    assert out.json()["message"] == "not good enough"
    assert out.headers["x-restate-error-source"] == "invocation"


async def test_promises_are_only_for_workflows(env: TestEnvironment) -> None:
    r = await env.client.post("/svc/promise_outside_a_workflow")
    assert r.status_code == 500 and "only available in workflows" in r.json()["message"]


async def test_retention_clears_a_workflows_state_and_promises(env: TestEnvironment) -> None:
    await env.client.post("/review/d4/decide", json="yes")
    run = await env.client.post("/review/d4/run", json="doc")
    assert run.json()["verdict"] == "yes"
    assert (await env.client.post("/review/d4/look")).json() == {"verdict": "yes", "doc": "doc"}
    env.clock.advance(25 * 3600)  # past the 24 h retention: the run is purged with its key's data
    await eventually(
        lambda: env.client.get("/restate/workflow/review/d4/output"), lambda r: r.status_code == 404
    )
    assert (await env.client.post("/review/d4/look")).json() == {"verdict": None, "doc": None}
    await env.client.post("/review/d4/decide", json="second")
    again = await env.client.post("/review/d4/run", json="doc 2")  # the key can run anew
    assert again.status_code == 200 and again.json()["verdict"] == "second"
