"""Restate's published Python examples (restatedev/sdk-python examples/, restatedev/examples
python/basics and python/patterns-use-cases) with awaken imports, served by awaken in-process and
driven over HTTP as their READMEs and comments say."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

import awaken as restate
from awaken.admin.app import AdminApp
from awaken.testing import TestEnvironment, harness
from tests.compat.conftest import FAST_RETRIES, eventually
from tests.compat.examples_support import BASICS, PATTERNS, SDK_EXAMPLES, journal_steps, load, while_advancing


@pytest.fixture(params=[False, True], ids=["in-memory", "always-suspending"])
def replay(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@contextlib.asynccontextmanager
async def _serve(
    app: Any, always_replay: bool = False
) -> AsyncIterator[tuple[TestEnvironment, httpx.AsyncClient]]:
    async with harness(app, always_replay=always_replay, config=FAST_RETRIES) as env:
        transport = httpx.ASGITransport(app=AdminApp(env.app))
        async with httpx.AsyncClient(transport=transport, base_url="http://admin") as admin:
            yield env, admin


# -- restatedev/sdk-python examples/ -------------------------------------------------------------


async def test_sdk_example_greeters(replay: bool) -> None:
    services = [
        load(SDK_EXAMPLES, "pydantic_greeter").pydantic_greeter,
        load(SDK_EXAMPLES, "msgspec_greeter").msgspec_greeter,
        load(SDK_EXAMPLES, "random_greeter").random_greeter,
        load(SDK_EXAMPLES, "concurrent_greeter").concurrent_greeter,
    ]
    async with _serve(restate.app(services), replay) as (env, _):
        for name in ("pydantic_greeter", "msgspec_greeter"):
            r = await env.client.post(f"/{name}/greet", json={"name": "Sam"})
            assert r.status_code == 200 and r.json() == {"message": "Hello Sam!"}, r.text
            bad = await env.client.post(f"/{name}/greet", json={"nom": "Sam"})
            assert bad.status_code == 500 and bad.json()["message"].startswith("Unable to parse an input")
        r = await env.client.post("/random_greeter/greet", json="Sam")
        assert r.status_code == 200 and r.json().startswith("Hello Sam with random number "), r.text
        r = await env.client.post("/concurrent_greeter/greet", json={"name": "Sam"})
        assert r.status_code == 200, r.text
        assert set(r.json()["messages"]) <= {"Bonjour Sam!", "Hello Sam!"}


async def test_sdk_example_virtual_object(replay: bool) -> None:
    vo = load(SDK_EXAMPLES, "virtual_object")
    async with _serve(restate.app([vo.counter]), replay) as (env, _):
        assert (await env.client.post("/counter/a/increment", json=5)).json() == 5
        assert (await env.client.post("/counter/a/increment", json=5)).json() == 10
        assert (await env.client.post("/counter/a/count")).json() == 10


async def test_sdk_example_payment_workflow(replay: bool) -> None:
    wf = load(SDK_EXAMPLES, "workflow")
    async with _serve(restate.app([wf.payment]), replay) as (env, _):
        for key, verdict, status, body in (
            ("p1", "approved", 200, {"success": True}),
            ("p2", "declined", 401, "Payment declined"),
        ):
            assert (await env.client.post(f"/payment/{key}/pay/send", json=100)).status_code == 202
            r = await env.client.post(f"/payment/{key}/payment_verified", json=verdict)
            assert r.status_code == 200, r.text
            out = await asyncio.wait_for(env.client.get(f"/restate/workflow/payment/{key}/attach"), 10)
            assert out.status_code == status
            assert (out.json() if status == 200 else out.json()["message"]) == body
        # nobody answers: the 10 s timeout wins
        assert (await env.client.post("/payment/p3/pay/send", json=100)).status_code == 202
        out = await while_advancing(env, env.client.get("/restate/workflow/payment/p3/attach"), step=3)
        assert out.status_code == 410 and out.json()["message"] == "Payment verification timed out"


async def test_sdk_example_harness_and_client(capsys: pytest.CaptureFixture[str]) -> None:
    # examples/harness.py: restate.create_test_harness, here on awaken's in-process engine
    await load(SDK_EXAMPLES, "harness").main()
    out = capsys.readouterr().out
    assert "Current count for 'a': 10" in out and "invocation ID: inv_1" in out
    # examples/client.py: restate.create_client against a served app
    client = load(SDK_EXAMPLES, "client")
    vo = load(SDK_EXAMPLES, "virtual_object")
    async with restate.create_test_harness(restate.app([vo.counter])) as env:
        client.INGRESS = env.ingress_url
        await client.main()
        assert capsys.readouterr().out.strip() in ("Current count for 'a': 5", "Current count for 'a': 10")
        await eventually(lambda: env.client.object_call(vo.count, key="a", arg=None), lambda n: n == 10)


# -- restatedev/examples python/basics ------------------------------------------------------------


async def test_basics_durable_execution(replay: bool) -> None:
    module = load(BASICS / "app", "0_durable_execution")
    async with _serve(module.app, replay) as (env, admin):
        req = {
            "user_id": "Sam Beckett",
            "credit_card": "1234-5678-9012-3456",
            "subscriptions": ["Netflix", "Disney+", "HBO Max"],
        }
        r = await env.client.post("/SubscriptionService/add", json=req)
        assert r.status_code == 200, r.text
        steps = journal_steps((await admin.get(f"/invocations/{r.headers['x-restate-id']}")).json())
        assert steps == ["recurring payment", "subscription", "subscription", "subscription"]


def test_basics_building_blocks_loads() -> None:
    # "not runnable, more like a reference" (its README): it builds, and its handler calls
    # `subscription_service.create`, which restate-sdk's VirtualObject has no more than awaken's
    module = load(BASICS, "app.1_building_blocks")
    assert {s.name for s in module.app.services} == {"myService", "SubscriptionService"}


# -- restatedev/examples python/patterns-use-cases -----------------------------------------------


async def test_pattern_sagas_compensate_in_reverse_order(replay: bool) -> None:
    module = load(PATTERNS, "sagas.app")
    async with _serve(module.app, replay) as (env, admin):
        req = {
            "customer_id": "c1",
            "flight": {"flight_id": "f1", "passenger_name": "Sam"},
            "car": {"pickup_location": "here", "rental_date": "2026-01-01"},
            "hotel": {"arrival_date": "2026-01-01", "departure_date": "2026-01-02"},
        }
        r = await env.client.post("/BookingWorkflow/run", json=req)
        assert r.status_code == 500 and r.json()["message"] == "[SIMULATED] This hotel is fully booked!"
        steps = journal_steps((await admin.get(f"/invocations/{r.headers['x-restate-id']}")).json())
        assert steps == [
            "Book flight",
            "Book car",
            "Book hotel",
            "Cancel hotel",
            "Cancel car",
            "Cancel flight",
        ]


async def test_pattern_stateful_actor(replay: bool) -> None:
    module = load(PATTERNS, "statefulactors.app")
    async with _serve(module.app, replay) as (env, _):
        up = await while_advancing(env, env.client.post("/machine-operator/m1/setUp"))
        assert up.json() == "m1 is now up"
        assert (
            await env.client.post("/machine-operator/m1/setUp")
        ).json() == "m1 is already up, so nothing to do"
        down = await while_advancing(env, env.client.post("/machine-operator/m1/tearDown"))
        assert down.json() == "m1 is now down"
        assert (
            await env.client.post("/machine-operator/m1/tearDown")
        ).json() == "m1 is not up, cannot tear down"


async def test_pattern_payment_state_machine(replay: bool) -> None:
    module = load(PATTERNS, "statemachinepayments.app")
    async with _serve(module.app, replay) as (env, admin):
        payment = {"account_id": "acc", "amount_cents": 100}
        assert (
            await env.client.post("/PaymentProcessor/p1/makePayment", json=payment)
        ).json() == "Withdrawal successful"
        again = await env.client.post("/PaymentProcessor/p1/makePayment", json=payment)
        assert again.json() == "Payment already completed in prior call"
        balance = (await admin.get("/services/account/state/acc")).json()["state"]["balance"]
        assert (await env.client.post("/PaymentProcessor/p1/cancelPayment")).status_code == 200
        await eventually(
            lambda: admin.get("/services/account/state/acc"),
            lambda r: r.json()["state"]["balance"] == balance + 100,
        )
        # a cancellation that overtakes its payment blocks it
        assert (await env.client.post("/PaymentProcessor/p2/cancelPayment")).status_code == 200
        blocked = await env.client.post("/PaymentProcessor/p2/makePayment", json=payment)
        assert blocked.json() == "Payment already cancelled"
        # a day later the payment ids expire (delayed sends to `expire`)
        env.clock.advance(86_400 + 60)
        await eventually(
            lambda: admin.get("/services/PaymentProcessor/state/p2"), lambda r: r.json()["state"] == {}
        )


async def test_pattern_scheduled_reminders(replay: bool) -> None:
    module = load(PATTERNS, "schedulingtasks.app")
    async with _serve(module.app, replay) as (env, admin):
        event = {"type": "invoice.payment_failed", "created": 1, "data": {"id": "ev1", "customer": "c"}}
        assert (await env.client.post("/PaymentTracker/inv1/onPaymentFailure", json=event)).status_code == 200

        async def reminders() -> Any:
            return (
                (await admin.get("/services/PaymentTracker/state/inv1")).json()["state"].get("reminder_count")
            )

        async def next_reminder_armed() -> bool:
            # the delayed self-call of the last reminder is stored (a day from now)
            due = await env.engine.store.next_timer_ms()
            return due is not None and due > env.engine.now_ms() + 86_000_000

        for expected in (2, 3):
            await eventually(next_reminder_armed, bool)
            env.clock.advance(86_400 + 1)  # the delayed self-call fires a day later
            await eventually(reminders, lambda n, e=expected: n == e)
        # paid: the next reminder does nothing
        assert (await env.client.post("/PaymentTracker/inv2/onPaymentSuccess", json=event)).status_code == 200
        assert (await env.client.post("/PaymentTracker/inv2/onPaymentFailure", json=event)).status_code == 200
        state = (await admin.get("/services/PaymentTracker/state/inv2")).json()["state"]
        assert state == {"paid": True}


async def test_pattern_parallelize_work(replay: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    utils = load(PATTERNS, "parallelizework.utils")
    monkeypatch.setattr(utils, "randint", lambda a, b: 0)  # the subtasks' simulated work: no sleep
    module = load(PATTERNS, "parallelizework.app")
    async with _serve(module.app, replay) as (env, _):
        r = await env.client.post("/FanOutWorker/run", json={"description": "a,b,c"})
        assert r.status_code == 200, r.text
        assert r.json() == {
            "description": "description='a': DONE,description='b': DONE,description='c': DONE"
        }


async def test_pattern_sync_to_async(monkeypatch: pytest.MonkeyPatch) -> None:
    utils = load(PATTERNS, "syncasync.utils")
    monkeypatch.setattr(utils.random, "random", lambda: 0.1)  # the fast (1.5 s) upload
    module = load(PATTERNS, "syncasync.app")
    async with _serve(module.app) as (env, _):
        fast = asyncio.ensure_future(env.client.post("/DataUploadService/u1/run", timeout=5))
        # the slow path of the client: ask for the URL by email while the upload runs
        slow = await env.client.post("/DataUploadService/u2/run/send")
        email = await env.client.post("/DataUploadService/u2/resultAsEmail/send", json="u2@example.com")
        assert slow.status_code == email.status_code == 202
        assert (await fast).json() == "https://s3-eu-central-1.amazonaws.com/100000000/"
        done = await asyncio.wait_for(
            env.client.get(f"/restate/invocation/{email.json()['invocationId']}/attach"), 10
        )
        assert done.status_code == 200


async def test_pattern_event_transactions(replay: bool) -> None:
    module = load(PATTERNS, "eventtransactions.app")
    async with _serve(module.app, replay) as (env, admin):
        post = {"content": "Hi! This is my first post!", "metadata": "public"}
        r = await while_advancing(env, env.client.post("/UserFeed/userid1/processPost", json=post))
        assert r.status_code == 200, r.text
        steps = journal_steps((await admin.get(f"/invocations/{r.headers['x-restate-id']}")).json())
        assert steps[0] == "profile update" and steps[-1] == "update feed"
        assert set(steps[1:-1]) == {"post status"}


async def test_pattern_event_enrichment(replay: bool) -> None:
    module = load(PATTERNS, "eventenrichment.app")
    async with _serve(module.app, replay) as (env, _):
        base = "/package-tracker/pkg1"
        missing = await env.client.post(f"{base}/getPackageInfo")
        assert missing.status_code == 500 and missing.json()["message"] == "Package not found"
        assert (
            await env.client.post(f"{base}/registerPackage", json={"final_destination": "Bologna"})
        ).status_code == 200
        for where in ("Berlin", "Milan"):
            update = {"location": where, "timestamp": "2026-01-01T00:00:00Z"}
            assert (await env.client.post(f"{base}/updateLocation", json=update)).status_code == 200
        info = (await env.client.post(f"{base}/getPackageInfo")).json()
        assert info["final_destination"] == "Bologna"
        assert [loc["location"] for loc in info["locations"]] == ["Berlin", "Milan"]
