"""The endpoint manifest model: what real SDKs send parses; malformed manifests are refused with
one precise problem per fault; and version negotiation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from awaken.protocol import (
    DISCOVERY_ACCEPT,
    HandlerType,
    ManifestError,
    ProtocolMode,
    ProtocolVersion,
    ServiceType,
    UnsupportedVersion,
    negotiate,
    parse_invocation_content_type,
    parse_manifest,
)
from awaken.protocol.versions import parse_manifest_content_type


def manifest(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "protocolMode": "BIDI_STREAM",
        "minProtocolVersion": 5,
        "maxProtocolVersion": 7,
        "services": [
            {
                "name": "Counter",
                "ty": "VIRTUAL_OBJECT",
                "handlers": [
                    {
                        "name": "add",
                        "input": {"contentType": "application/json", "jsonSchema": {"type": "integer"}},
                    },
                    {"name": "get", "ty": "SHARED", "output": {"contentType": "application/json"}},
                ],
                "enableLazyState": True,
                "eagerStateKeysWhitelist": ["hot"],
                "retryPolicyMaxAttempts": 3,
                "retryPolicyOnMaxAttempts": "PAUSE",
                "inactivityTimeout": 60000,
                "metadata": {"team": "x"},
                "documentation": "counts",
            }
        ],
    }
    base.update(overrides)
    return base


def problems(document: object) -> list[str]:
    with pytest.raises(ManifestError) as raised:
        parse_manifest(json.dumps(document))
    return raised.value.problems


def test_a_full_manifest_parses_with_defaults_applied() -> None:
    m = parse_manifest(json.dumps(manifest(lambdaCompression="zstd", someFutureField=1)))
    assert m.protocol_mode is ProtocolMode.BIDI_STREAM and m.lambda_compression == "zstd"
    counter = m.service("Counter")
    assert counter is not None and counter.ty is ServiceType.VIRTUAL_OBJECT
    assert counter.enable_lazy_state is True and counter.eager_state_keys_whitelist == ("hot",)
    assert counter.inactivity_timeout == 60000 and counter.metadata == {"team": "x"}
    add, get = counter.handlers
    assert (
        counter.handler_kind(add) is HandlerType.EXCLUSIVE and counter.handler_kind(get) is HandlerType.SHARED
    )
    assert add.input is not None and add.input.json_schema == {"type": "integer"}
    assert counter.handler("nope") is None and m.service("nope") is None


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"minProtocolVersion": "5"}, "minProtocolVersion: Input should be a valid integer"),
        ({"maxProtocolVersion": 0}, "maxProtocolVersion: Input should be greater than or equal to 1"),
        ({"minProtocolVersion": 7, "maxProtocolVersion": 5}, "minProtocolVersion 7 > maxProtocolVersion 5"),
        ({"protocolMode": "SOMETIMES"}, "protocolMode: Input should be 'BIDI_STREAM' or 'REQUEST_RESPONSE'"),
        ({"services": {}}, "services: Input should be a valid"),
        ({"lambdaCompression": "gzip"}, "lambdaCompression: Input should be 'zstd'"),
    ],
)
def test_endpoint_level_faults(change: dict[str, Any], expected: str) -> None:
    assert any(expected in p for p in problems(manifest(**change))), problems(manifest(**change))


def _service(**fields: Any) -> dict[str, Any]:
    return manifest(services=[{"name": "S", "ty": "SERVICE", "handlers": [{"name": "h"}], **fields}])


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            manifest(services=[{"name": "9lives", "ty": "SERVICE", "handlers": []}]),
            "services[0].name: String should match",
        ),
        (manifest(services=[{"name": "S", "handlers": []}]), "services[0].ty: Field required"),
        (_service(handlers=[{"name": "h-h"}]), "services[0].handlers[0].name: String should match"),
        (_service(handlers=[{"name": "h"}, {"name": "h"}]), "handlers[1] (h): duplicate handler name"),
        (_service(handlers=[{"name": "h", "ty": "EXCLUSIVE"}]), "a SERVICE's handlers have no ty"),
        (_service(enableLazyState=True), "a SERVICE has no state"),
        (
            _service(inactivityTimeout=-1),
            "services[0].inactivityTimeout: Input should be greater than or equal to 0",
        ),
        (_service(inactivityTimeout=1.5), "services[0].inactivityTimeout: Input should be a valid integer"),
        (
            _service(retryPolicyExponentiationFactor=0.5),
            "retryPolicyExponentiationFactor must be a finite number >= 1",
        ),
        (
            _service(retryPolicyOnMaxAttempts="RETRY"),
            "retryPolicyOnMaxAttempts: Input should be 'PAUSE' or 'KILL'",
        ),
        (_service(metadata={"k": 1}), "services[0].metadata.k: Input should be a valid string"),
        (
            manifest(
                services=[
                    {"name": "S", "ty": "SERVICE", "handlers": []},
                    {"name": "S", "ty": "SERVICE", "handlers": []},
                ]
            ),
            "services[1] (S): duplicate service name",
        ),
        (
            manifest(
                services=[
                    {"name": "O", "ty": "VIRTUAL_OBJECT", "handlers": [{"name": "w", "ty": "WORKFLOW"}]}
                ]
            ),
            "a VIRTUAL_OBJECT's handler is EXCLUSIVE or SHARED",
        ),
        (
            manifest(services=[{"name": "W", "ty": "WORKFLOW", "handlers": [{"name": "s", "ty": "SHARED"}]}]),
            "a WORKFLOW needs exactly one WORKFLOW handler, has 0",
        ),
        (
            manifest(
                services=[
                    {
                        "name": "W",
                        "ty": "WORKFLOW",
                        "handlers": [{"name": "run"}, {"name": "x", "ty": "EXCLUSIVE"}],
                    }
                ]
            ),
            "a WORKFLOW's handler is WORKFLOW or SHARED",
        ),
        (
            manifest(
                services=[
                    {"name": "W", "ty": "WORKFLOW", "handlers": [{"name": "run", "idempotencyRetention": 1}]}
                ]
            ),
            "idempotencyRetention is not valid on a WORKFLOW handler",
        ),
        (
            _service(handlers=[{"name": "h", "workflowCompletionRetention": 1}]),
            "only valid on a WORKFLOW handler",
        ),
        (
            _service(handlers=[{"name": "h", "input": {"contentType": 3}}]),
            "handlers[0].input.contentType: Input should be a valid string",
        ),
    ],
)
def test_service_and_handler_faults_name_their_place(document: dict[str, Any], expected: str) -> None:
    found = problems(document)
    assert any(expected in p for p in found), found


def test_not_json_and_not_an_object() -> None:
    with pytest.raises(ManifestError, match="not valid JSON"):
        parse_manifest(b"{")
    with pytest.raises(ManifestError, match="must be a JSON object"):
        parse_manifest(b"[1, 2]")
    with pytest.raises(ManifestError, match="not valid JSON"):
        parse_manifest(b"\xff\xfe")


def test_every_problem_is_listed_at_once() -> None:
    found = problems(manifest(minProtocolVersion="x", services=[{"name": "", "ty": "NOPE", "handlers": 1}]))
    assert len(found) == 4, found


def test_negotiation() -> None:
    assert negotiate(5, 7) is ProtocolVersion.V6
    assert negotiate(5, 5) is ProtocolVersion.V5
    assert negotiate(1, 7, speak=tuple(ProtocolVersion)) is ProtocolVersion.V7
    with pytest.raises(UnsupportedVersion, match=r"\[1, 4\]; awaken speaks V5, V6"):
        negotiate(1, 4)
    with pytest.raises(UnsupportedVersion, match="empty"):
        negotiate(7, 5)


def test_content_types() -> None:
    assert ProtocolVersion.V6.content_type == "application/vnd.restate.invocation.v6"
    assert parse_invocation_content_type("application/vnd.restate.invocation.v5") is ProtocolVersion.V5
    assert parse_invocation_content_type("Application/vnd.restate.invocation.v7; x=y") is ProtocolVersion.V7
    for bad in (
        None,
        "application/json",
        "application/vnd.restate.invocation.v4",
        "application/vnd.restate.invocation.vx",
    ):
        with pytest.raises(UnsupportedVersion):
            parse_invocation_content_type(bad)
    assert DISCOVERY_ACCEPT.startswith("application/vnd.restate.endpointmanifest.v5+json, ")
    assert parse_manifest_content_type("application/vnd.restate.endpointmanifest.v3+json") == 3
    for bad in (None, "application/json", "application/vnd.restate.endpointmanifest.v9+json"):
        with pytest.raises(UnsupportedVersion):
            parse_manifest_content_type(bad)
