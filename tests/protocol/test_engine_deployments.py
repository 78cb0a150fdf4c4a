"""Deployments through the admin API (SPEC §8, issue point 5), in Restate's shapes: register (201
and a Location; 200 for the same deployment again; 409 for an incompatible change unless
`force`), list, describe, delete; remote services in `GET /services`; an invocation stays pinned
to the deployment it started on."""

from __future__ import annotations

from collections.abc import Callable

from awaken.engine.engine import EngineConfig
from tests.protocol.rig import ENDPOINTS, Endpoint, start_endpoint, stop_endpoint
from tests.protocol.server import serve
from tests.protocol.test_engine_commands import awakeable_of

CONFIG = EngineConfig(remote_inactivity=0.3)


async def test_register_list_describe_and_services(endpoint: Callable[[str], Endpoint]) -> None:
    ep = endpoint("ts-h1")
    async with serve(config=CONFIG) as awaken:
        first = await awaken.admin.post("/deployments", json={"uri": ep.url})
        assert first.status_code == 201, first.text
        deployment_id = first.json()["id"]
        assert deployment_id.startswith("dp_1") and len(deployment_id) == 26
        assert first.headers["location"] == f"/deployments/{deployment_id}"
        body = first.json()
        assert (body["min_protocol_version"], body["max_protocol_version"]) == (5, 7)
        assert "Greeter" in {s["name"] for s in body["services"]}
        again = await awaken.admin.post("/deployments", json={"uri": ep.url})
        assert again.status_code == 200 and again.json()["id"] == deployment_id

        listed = (await awaken.admin.get("/deployments")).json()["deployments"]
        assert [(d["id"], d["uri"], d["protocol_type"]) for d in listed] == [
            (deployment_id, ep.url, "RequestResponse")
        ]
        assert {"name": "Counter", "revision": 1} in listed[0]["services"]
        one = (await awaken.admin.get(f"/deployments/{deployment_id}")).json()
        counter = next(s for s in one["services"] if s["name"] == "Counter")
        assert counter["ty"] == "VirtualObject" and counter["deployment_id"] == deployment_id
        assert {h["name"]: h["ty"] for h in counter["handlers"]}["get"] == "Shared"

        services = {s["name"]: s for s in (await awaken.admin.get("/services")).json()["services"]}
        assert services["Greeter"]["deployment_id"] == deployment_id
        described = (await awaken.admin.get("/services/Signup")).json()
        assert described["ty"] == "Workflow"
        assert (await awaken.admin.get("/deployments/dp_1nosuchdeploymentatall0")).status_code == 404


async def test_bad_registrations_get_clear_errors() -> None:
    async with serve() as awaken:
        cases = [
            ({"uri": "localhost:9080"}, 400, "expected an http:// or https:// URL"),
            ({"url": "http://x"}, 400, "unknown field(s) url"),
            ({"uri": "http://127.0.0.1:9", "force": "yes"}, 400, "Invalid field 'force'"),
            ({"uri": "http://127.0.0.1:9"}, 400, "cannot discover the deployment"),
            ({"arn": "arn:aws:lambda:eu-central-1:1:function:f"}, 400, "Lambda ARNs are not supported"),
        ]
        bad_headers = [
            ({"x api key": "k"}, "'x api key' is not a header name"),
            ({"Content-Type": "text/plain"}, "'Content-Type' is set by awaken itself"),
            ({"Connection": "close"}, "'Connection' is set by awaken itself"),
            ({"X-Restate-JWT-V1": "forged"}, "'X-Restate-JWT-V1' is set by awaken itself"),
            ({"x-key": "a", "X-Key": "b"}, "'X-Key' is given twice"),
            ({"x-key": "a\r\nx-injected: 1"}, "the value of 'x-key' is not printable ASCII"),
            (
                {"x-key": " padded"},
                "the value of 'x-key' is not printable ASCII without surrounding whitespace",
            ),
        ]
        for headers, text in bad_headers:
            body = {"uri": "http://127.0.0.1:9", "additional_headers": headers}
            cases.append((body, 400, f"Invalid field 'additional_headers': {text}"))
        for body, status, text in cases:
            r = await awaken.admin.post("/deployments", json=body)
            assert r.status_code == status and text in r.json()["message"], (body, r.text)
        r = await awaken.admin.post("/deployments", content=b"{not json")
        assert r.status_code == 400 and "not JSON" in r.json()["message"]
        assert (await awaken.admin.get("/deployments")).json() == {"deployments": []}


async def test_incompatible_changes_need_force() -> None:
    service = start_endpoint(ENDPOINTS["bad-h1"])
    as_object = start_endpoint(ENDPOINTS["bad-h1"], env={"ENDPOINT_BAD_KIND": "VIRTUAL_OBJECT"})
    port = service.url.rsplit(":", 1)[1]
    replaced: Endpoint | None = None
    try:
        async with serve(config=CONFIG) as awaken:
            first = await awaken.register(service.url)
            # the same service name as another kind, from another deployment: 409
            r = await awaken.admin.post("/deployments", json={"uri": as_object.url})
            assert r.status_code == 409, r.text
            assert "service 'Bad' is a service of deployment" in r.json()["message"]
            r = await awaken.admin.post("/deployments", json={"uri": as_object.url, "force": True})
            assert r.status_code == 201, r.text
            assert (await awaken.admin.get("/services/Bad")).json()["ty"] == "VirtualObject"
            # another deployment behind a registered URI: 409, or replaced with force
            stop_endpoint(service)
            replaced = start_endpoint(ENDPOINTS["py-uvicorn"], env={"ENDPOINT_PORT": port})
            r = await awaken.admin.post("/deployments", json={"uri": service.url})
            assert r.status_code == 409 and "a different deployment is registered" in r.json()["message"]
            r = await awaken.admin.post("/deployments", json={"uri": service.url, "force": True})
            assert r.status_code == 200 and r.json()["id"] == first["id"], r.text
            assert "Greeter" in {s["name"] for s in r.json()["services"]}
            assert (await awaken.ingress.post("/Greeter/greet", json="new")).json() == "Hello new!"
    finally:
        for ep in (service, as_object, replaced):
            if ep is not None:
                stop_endpoint(ep)


async def test_an_invocation_stays_on_the_deployment_it_started_on(
    endpoint: Callable[[str], Endpoint],
) -> None:
    old, new = endpoint("ts-h1"), endpoint("py-uvicorn")  # both serve Reviews
    async with serve(config=CONFIG) as awaken:
        old_id = (await awaken.register(old.url))["id"]
        started = (await awaken.ingress.post("/Reviews/review/send", json="a")).json()["invocationId"]
        first_awakeable = await awakeable_of(awaken, started)
        new_id = (await awaken.register(new.url))["id"]
        assert (await awaken.admin.get("/services/Reviews")).json()["deployment_id"] == new_id
        later = (await awaken.ingress.post("/Reviews/review/send", json="b")).json()["invocationId"]
        later_awakeable = await awakeable_of(awaken, later)
        pins = {
            i: (await awaken.admin.get(f"/invocations/{i}")).json()["deployment_id"] for i in (started, later)
        }
        assert pins == {started: old_id, later: new_id}
        # the old deployment cannot go while an invocation is pinned to it, unless forced
        r = await awaken.admin.delete(f"/deployments/{old_id}")
        assert r.status_code == 409 and "serves 1 invocations" in r.json()["message"], r.text
        for awakeable_id in (first_awakeable, later_awakeable):
            await awaken.ingress.post(f"/restate/awakeables/{awakeable_id}/resolve", json="ok")
        for i, name in ((started, "a"), (later, "b")):
            r = await awaken.ingress.get(f"/restate/invocation/{i}/attach")
            assert r.json() == f"{name}: ok"
        assert (await awaken.admin.delete(f"/deployments/{old_id}")).status_code == 202
        assert (await awaken.admin.get(f"/deployments/{old_id}")).status_code == 404
        listed = (await awaken.admin.get("/deployments")).json()["deployments"]
        assert [d["id"] for d in listed] == [new_id]
        assert (await awaken.admin.delete(f"/deployments/{new_id}?force=true")).status_code == 202
        assert (await awaken.admin.get("/services/Reviews")).status_code == 404
        r = await awaken.ingress.post("/Reviews/review", json="gone")
        assert r.status_code == 404, r.text
