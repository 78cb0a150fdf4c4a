"""Discovery of the real SDK endpoints, over HTTP/2 (h2c) and HTTP/1.1, validated by our manifest model."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from awaken.protocol import (
    SUPPORTED_VERSIONS,
    DeploymentClient,
    HandlerType,
    ProtocolMode,
    ProtocolVersion,
    ServiceType,
    negotiate,
)
from tests.protocol.conftest import SDK_ENDPOINTS
from tests.protocol.rig import Endpoint

SDK_VERSIONS = {"typescript": "restate-sdk-typescript/1.17.2", "python": "restate-sdk-python/1.3.0"}


@pytest.mark.parametrize("name", SDK_ENDPOINTS)
async def test_discovery_of_each_sdk_in_its_http_version(
    name: str, endpoint: Callable[[str], Endpoint], client: DeploymentClient
) -> None:
    ep = endpoint(name)
    discovery = await client.discover(ep.url, http_version=ep.http_version)
    manifest = discovery.manifest

    assert discovery.server == SDK_VERSIONS[ep.kind.sdk]
    assert discovery.http_version == ep.http_version
    # The SDKs pick their mode from the HTTP version of the discovery request.
    expected_mode = ProtocolMode.BIDI_STREAM if ep.kind.bidi else ProtocolMode.REQUEST_RESPONSE
    assert manifest.protocol_mode is expected_mode
    assert (manifest.min_protocol_version, manifest.max_protocol_version) == (5, 7)
    assert negotiate(manifest.min_protocol_version, manifest.max_protocol_version) is ProtocolVersion.V6
    assert negotiate(5, 7, speak=tuple(ProtocolVersion)) is ProtocolVersion.V7
    assert SUPPORTED_VERSIONS == (ProtocolVersion.V5, ProtocolVersion.V6)
    # TypeScript reads manifests up to v4, Python up to v5; both answer with the newest we accept.
    assert discovery.manifest_version == (4 if ep.kind.sdk == "typescript" else 5)

    names = {s.name: s for s in manifest.services}
    assert set(names) == {
        "Greeter",
        "Reviews",
        "Counter",
        "LazyCounter",
        "Sleeper",
        "Caller",
        "Runner",
        "Signup",
        "Flaky",
        "Nondeterministic",
        "Proxy",
        "Locker",
        "Durable",
    }
    assert names["Greeter"].ty is ServiceType.SERVICE
    assert [h.name for h in names["Greeter"].handlers] == ["greet"]

    counter = names["Counter"]
    assert counter.ty is ServiceType.VIRTUAL_OBJECT
    kinds = {h.name: counter.handler_kind(h) for h in counter.handlers}
    assert kinds == {
        "add": HandlerType.EXCLUSIVE,
        "get": HandlerType.SHARED,
        "keys": HandlerType.SHARED,
        "reset": HandlerType.EXCLUSIVE,
    }
    assert names["LazyCounter"].enable_lazy_state is True
    assert counter.enable_lazy_state in (None, False)

    signup = names["Signup"]
    assert signup.ty is ServiceType.WORKFLOW
    signup_kinds = {h.name: signup.handler_kind(h) for h in signup.handlers}
    assert signup_kinds == {
        "run": HandlerType.WORKFLOW,
        "confirm": HandlerType.SHARED,
        "peek": HandlerType.SHARED,
    }

    flaky = names["Flaky"]
    assert flaky.retry_policy_max_attempts == 3
    assert flaky.retry_policy_initial_interval == 100

    greet = names["Greeter"].handler("greet")
    assert greet is not None and greet.input is not None and greet.input.content_type == "application/json"


async def test_hypercorn_serves_the_python_sdk_over_http11_too(
    endpoint: Callable[[str], Endpoint], client: DeploymentClient
) -> None:
    ep = endpoint("py-hypercorn")
    discovery = await client.discover(ep.url, http_version="1.1")
    assert discovery.manifest.protocol_mode is ProtocolMode.REQUEST_RESPONSE
