"""The deployment client against a deployment that misbehaves on purpose, in both HTTP versions:
every fault is one clear exception, nothing hangs past its timeout, and the client stays usable."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from awaken.protocol import (
    ConnectionClosed,
    DeploymentClient,
    DeploymentError,
    DeploymentTimeout,
    DeploymentUnreachable,
    ManifestError,
    MessageTooLarge,
    ProtocolError,
    ProtocolMode,
    ProtocolVersion,
    StreamReset,
    Timeouts,
    TruncatedMessage,
    UnexpectedContentType,
    UnexpectedStatus,
    UnknownMessageType,
    UnsupportedVersion,
    negotiate,
    random_start_id,
)
from awaken.protocol.messages import (
    EndMessage,
    ErrorMessage,
    InputCommand,
    OutputCommand,
    ProtocolMessage,
    StartMessage,
    Value,
)
from tests.protocol.rig import Endpoint

BAD = ("bad-h2", "bad-h1")
SHORT = Timeouts(connect=2.0, response=0.5, read=0.5, write=2.0)


@pytest.fixture
async def short_client() -> AsyncIterator[DeploymentClient]:
    async with DeploymentClient(timeouts=SHORT) as c:
        yield c


async def _invoke(client: DeploymentClient, ep: Endpoint, behaviour: str) -> list[ProtocolMessage]:
    mode = ProtocolMode.BIDI_STREAM if ep.kind.bidi else ProtocolMode.REQUEST_RESPONSE
    start = StartMessage(id=random_start_id(), debug_id="inv_1fault", known_entries=1)
    stream = await client.invoke(
        ep.url,
        "Bad",
        behaviour,
        ProtocolVersion.V5,
        [start, InputCommand(value=Value(b'"x"'))],
        mode=mode,
        http_version=ep.http_version,
    )
    async with stream:
        return await stream.collect()


@pytest.mark.parametrize("name", BAD)
async def test_ok_behaviour_is_a_valid_conversation(
    name: str, endpoint: Callable[[str], Endpoint], short_client: DeploymentClient
) -> None:
    ep = endpoint(name)
    assert await _invoke(short_client, ep, "ok") == [OutputCommand(result=Value(b'"x"')), EndMessage()]


@pytest.mark.parametrize(
    ("behaviour", "error", "detail"),
    [
        ("status500", UnexpectedStatus, "internal error (on purpose)"),
        ("status404", UnexpectedStatus, "not here"),
        ("garbage", UnknownMessageType, "0x1337"),
        ("wrong_content_type", UnexpectedContentType, "application/json"),
        ("unknown_type", UnknownMessageType, "0x0BAD"),
        ("truncated", TruncatedMessage, "18 of 108 bytes"),
        ("oversize", MessageTooLarge, "4294967295 bytes"),
        ("hang_before_headers", DeploymentTimeout, "within"),
        ("hang_after_headers", DeploymentTimeout, "within"),
    ],
)
@pytest.mark.parametrize("name", BAD)
async def test_each_fault_is_one_clear_error(
    name: str,
    behaviour: str,
    error: type[ProtocolError],
    detail: str,
    endpoint: Callable[[str], Endpoint],
    short_client: DeploymentClient,
) -> None:
    ep = endpoint(name)
    with pytest.raises(error) as raised:
        await _invoke(short_client, ep, behaviour)
    assert detail in str(raised.value)
    if isinstance(raised.value, DeploymentError):
        assert f"/invoke/Bad/{behaviour}" in raised.value.url
    # The client (and its pooled connection) still works for the next attempt.
    assert await _invoke(short_client, ep, "ok") == [OutputCommand(result=Value(b'"x"')), EndMessage()]


@pytest.mark.parametrize(
    ("name", "errors"),
    [
        # uvicorn closes the connection in the middle of the body;
        ("bad-h1", (ConnectionClosed, TruncatedMessage)),
        # hypercorn leaves the stream open and silent: the read timeout ends it.
        ("bad-h2", (DeploymentTimeout, StreamReset)),
    ],
)
async def test_a_dropped_response_is_a_transport_error(
    name: str,
    errors: tuple[type[Exception], ...],
    endpoint: Callable[[str], Endpoint],
    short_client: DeploymentClient,
) -> None:
    ep = endpoint(name)
    with pytest.raises(errors):
        await _invoke(short_client, ep, "drop")
    assert await _invoke(short_client, ep, "ok") == [OutputCommand(result=Value(b'"x"')), EndMessage()]


@pytest.mark.parametrize("name", BAD)
async def test_wire_level_protocol_violations_decode_for_the_engine_to_judge(
    name: str, endpoint: Callable[[str], Endpoint], short_client: DeploymentClient
) -> None:
    """Well-formed frames in a wrong order are not the codec's business: they come out as messages."""
    ep = endpoint(name)
    violation = await _invoke(short_client, ep, "violation")
    assert [type(m) for m in violation] == [StartMessage, EndMessage]
    assert await _invoke(short_client, ep, "no_terminator") == [OutputCommand(result=Value(b'"half"'))]
    assert await _invoke(short_client, ep, "error_message") == [
        ErrorMessage(code=500, message="boom (on purpose)", next_retry_delay=1234)
    ]


@pytest.mark.parametrize("name", BAD)
async def test_slow_progress_is_not_a_timeout(
    name: str, endpoint: Callable[[str], Endpoint], short_client: DeploymentClient
) -> None:
    """Bytes every 20 ms never hit the 0.5 s read timeout, though the whole answer takes longer."""
    ep = endpoint(name)
    assert await _invoke(short_client, ep, "slow") == [OutputCommand(result=Value(b'"slow"')), EndMessage()]


@pytest.mark.parametrize("name", BAD)
async def test_a_fixed_deployment_works_again(
    name: str, endpoint: Callable[[str], Endpoint], short_client: DeploymentClient
) -> None:
    ep = endpoint(name)
    async with httpx.AsyncClient() as control:
        assert (await control.post(f"{ep.url}/control", content=b"status500")).status_code == 200
        with pytest.raises(UnexpectedStatus):
            await _invoke(short_client, ep, "switchable")
        assert (await control.post(f"{ep.url}/control", content=b"ok")).status_code == 200
    assert await _invoke(short_client, ep, "switchable") == [
        OutputCommand(result=Value(b'"x"')),
        EndMessage(),
    ]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("http_version", ["2", "1.1"])
async def test_refused_connection(http_version: str, short_client: DeploymentClient) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(DeploymentUnreachable):
        await short_client.discover(url, http_version=http_version)  # type: ignore[arg-type]
    mode = ProtocolMode.BIDI_STREAM if http_version == "2" else ProtocolMode.REQUEST_RESPONSE
    with pytest.raises(DeploymentUnreachable):
        await short_client.invoke(url, "S", "h", ProtocolVersion.V5, [], mode=mode, http_version=http_version)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("prefix", "error", "detail"),
    [
        ("/manifest-garbage", ManifestError, "not valid JSON"),
        ("/manifest-invalid", ManifestError, "services[0].name"),
        ("/manifest-wrong-type", UnexpectedContentType, "application/json"),
        ("/manifest-500", UnexpectedStatus, "discovery failed (on purpose)"),
        ("/manifest-hang", DeploymentTimeout, "within"),
    ],
)
@pytest.mark.parametrize("name", BAD)
async def test_discovery_faults(
    name: str,
    prefix: str,
    error: type[ProtocolError],
    detail: str,
    endpoint: Callable[[str], Endpoint],
    short_client: DeploymentClient,
) -> None:
    ep = endpoint(name)
    with pytest.raises(error) as raised:
        await short_client.discover(ep.url + prefix, http_version=ep.http_version)
    assert detail in str(raised.value)


@pytest.mark.parametrize("name", BAD)
async def test_discovery_of_an_incompatible_protocol_range(
    name: str, endpoint: Callable[[str], Endpoint], short_client: DeploymentClient
) -> None:
    ep = endpoint(name)
    discovery = await short_client.discover(ep.url + "/manifest-v99", http_version=ep.http_version)
    manifest = discovery.manifest
    with pytest.raises(UnsupportedVersion, match=r"\[99, 100\]"):
        negotiate(manifest.min_protocol_version, manifest.max_protocol_version)
    good = await short_client.discover(ep.url, http_version=ep.http_version)
    assert json.loads(good.manifest.model_dump_json())["services"][0]["name"] == "Bad"
