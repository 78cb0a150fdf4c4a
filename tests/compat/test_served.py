"""Restate's examples under a real `awaken serve` on loopback ports, started from their own
directory as their READMEs start them (`cd` there, serve `module:app`), and driven over HTTP as
their READMEs' curl commands and client scripts do."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.compat.examples_support import BASICS, PATTERNS, SDK_EXAMPLES
from tests.e2e.conftest import Server, eventually

pytestmark = pytest.mark.e2e


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[object]:
    servers: list[Server] = []

    def start(target: str, cwd: Path, **env: str) -> Server:
        workdir = tmp_path / f"server{len(servers) + 1}"
        workdir.mkdir()
        server = Server(target, workdir, cwd=cwd, env=env)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.close()


def test_basics_virtual_objects_as_in_the_comments(serve: object) -> None:
    server: Server = serve("app.2_virtual_objects:app", BASICS)  # type: ignore[operator]
    # curl localhost:8080/greeter/mary/greet -H 'content-type: application/json' -d '"Hi"'
    assert server.post("/greeter/mary/greet", "Hi").json() == "Hi mary for the 1-th time."
    assert server.post("/greeter/barack/greet", "Hello").json() == "Hello barack for the 1-th time."
    assert server.post("/greeter/mary/greet", "Hi").json() == "Hi mary for the 2-th time."
    # curl localhost:8080/greeter/mary/ungreet -H 'content-type: application/json' -d '{}'
    assert server.post("/greeter/mary/ungreet", {}).json() == "Goodbye mary, taking one greeting back: 1."


def test_basics_workflow_signup_with_the_emailed_secret(serve: object) -> None:
    server: Server = serve("app.3_workflows:app", BASICS)  # type: ignore[operator]
    # curl localhost:8080/usersignup/signup-userid1/run/send --json '{"name": "Bob", "email": ...}'
    user = {"name": "Bob", "email": "bob@builder.com"}
    inv = server.send("/usersignup/signup-userid1/run", user)
    # the "email" is the server's log line: "... with secret <SECRET>"
    secret = eventually(
        lambda: (m := re.search(r"with secret ([0-9a-f-]{36})", server.log_text())) and m.group(1),
        what="the emailed secret in the server log",
    )
    # curl localhost:8080/usersignup/signup-userid1/click --json '"<SECRET>"'
    assert server.post("/usersignup/signup-userid1/click", secret).status_code == 200
    # curl localhost:8080/restate/workflow/usersignup/signup-userid1/attach
    attached = server.client.get(f"{server.url}/restate/workflow/usersignup/signup-userid1/attach")
    assert attached.status_code == 200 and attached.json() is True
    assert server.attach(inv).json() is True


def test_basics_durable_execution_served_from_the_app_directory(serve: object) -> None:
    # 0_durable_execution imports `utils` as a top-level module, as when run from basics/app
    server: Server = serve("0_durable_execution:app", BASICS / "app")  # type: ignore[operator]
    health = server.client.get(f"{server.url}/restate/health").json()
    assert health == {"services": ["SubscriptionService"]}


def test_pattern_durable_rpc_with_idempotency_keys(serve: object) -> None:
    server: Server = serve("durablerpc.app:app", PATTERNS)  # type: ignore[operator]

    def reserve(product: str, reservation: str) -> object:  # durablerpc/client.py's request
        response = server.client.post(
            f"{server.url}/product/{product}/reserve", headers={"idempotency-key": reservation}
        )
        assert response.status_code == 200, response.text
        return response.json()

    assert reserve("product1", "reservation1") is True
    assert reserve("product1", "reservation2") is False
    assert reserve("product1", "reservation1") is True  # deduplicated: the first answer again


def test_pattern_queueing_attach_by_idempotency_key(serve: object) -> None:
    server: Server = serve("queueing.app:app", PATTERNS)  # type: ignore[operator]
    for status in ("Accepted", "PreviouslyAccepted"):
        # queueing/client.py: send with an idempotency key, then attach to it by that key
        handle = server.client.post(
            f"{server.url}/AsyncTaskWorker/run/send",
            json={"id": "task123"},
            headers={"idempotency-key": "task123"},
        )
        assert handle.status_code == 202 and handle.json()["status"] == status
        response = server.client.get(f"{server.url}/restate/invocation/AsyncTaskWorker/run/task123/attach")
        assert response.status_code == 200 and response.json() == "Finished work on task: task123"
        output = server.client.get(f"{server.url}/restate/invocation/AsyncTaskWorker/run/task123/output")
        assert output.json() == "Finished work on task: task123"
    unknown = server.client.get(f"{server.url}/restate/invocation/AsyncTaskWorker/run/never-sent/output")
    assert unknown.status_code == 404


def test_sdk_example_app(serve: object) -> None:
    server: Server = serve("example:app", SDK_EXAMPLES)  # type: ignore[operator]
    assert server.post("/greeter/greet", "Sam").json() == "Hello Sam!"
    # examples/greeter.py logs through restate.getLogger(), with the std logging configuration
    eventually(lambda: "Received greeting request: Sam" in server.log_text(), what="the greeter's log line")
    r = server.post("/pydantic_greeter/greet", {"name": "Sam"})
    assert r.json() == {"message": "Hello Sam!"}
    assert server.post("/counter/a/increment", 2).json() == 2
    assert server.post("/counter/a/count").json() == 2
    # examples/workflow.py prints the curl commands to approve: `... --json '"approved"'`
    inv = server.send("/payment/pay1/pay", 10)
    assert server.post("/payment/pay1/payment_verified", "approved").status_code == 200
    assert server.attach(inv).json() == {"success": True}
    # the admin API describes the services in Restate's shapes
    described = server.admin("/services/payment")
    assert described["ty"] == "Workflow"
    assert {h["name"]: h.get("ty") for h in described["handlers"]} == {
        "pay": "Workflow",
        "payment_verified": "Shared",
    }
