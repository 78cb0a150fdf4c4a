"""Request identity checked by the real SDKs: endpoints configured with awaken's public key accept
requests awaken signs and refuse unsigned ones and ones signed by another key."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from awaken.protocol import (
    DeploymentClient,
    ProtocolMode,
    ProtocolVersion,
    RequestSigner,
    SigningKey,
    UnexpectedStatus,
    random_start_id,
)
from awaken.protocol.messages import EndMessage, InputCommand, OutputCommand, StartMessage, Value
from tests.protocol.conftest import FAST, SDK_ENDPOINTS
from tests.protocol.rig import Endpoint


async def _greet(client: DeploymentClient, ep: Endpoint) -> list[object]:
    mode = ProtocolMode.BIDI_STREAM if ep.kind.bidi else ProtocolMode.REQUEST_RESPONSE
    start = StartMessage(id=random_start_id(), debug_id="inv_1identity", known_entries=1)
    stream = await client.invoke(
        ep.url,
        "Greeter",
        "greet",
        ProtocolVersion.V6,
        [start, InputCommand(value=Value(json.dumps("Ada").encode()))],
        mode=mode,
        http_version=ep.http_version,
    )
    async with stream:
        return list(await stream.collect())


@pytest.mark.parametrize("name", SDK_ENDPOINTS)
async def test_sdk_with_identity_keys_accepts_our_signed_requests(
    name: str, signed_endpoint: Callable[[str], Endpoint], signing_client: DeploymentClient
) -> None:
    ep = signed_endpoint(name)
    discovery = await signing_client.discover(ep.url, http_version=ep.http_version)
    assert discovery.manifest.service("Greeter") is not None
    assert await _greet(signing_client, ep) == [OutputCommand(result=Value(b'"Hello Ada!"')), EndMessage()]


@pytest.mark.parametrize("name", SDK_ENDPOINTS)
async def test_sdk_with_identity_keys_refuses_unsigned_and_foreign_requests(
    name: str, signed_endpoint: Callable[[str], Endpoint], client: DeploymentClient
) -> None:
    ep = signed_endpoint(name)
    with pytest.raises(UnexpectedStatus) as unsigned:
        await client.discover(ep.url, http_version=ep.http_version)
    assert unsigned.value.status == 401
    with pytest.raises(UnexpectedStatus) as unsigned_call:
        await _greet(client, ep)
    assert unsigned_call.value.status == 401

    async with DeploymentClient(RequestSigner(SigningKey.generate()), timeouts=FAST) as stranger:
        with pytest.raises(UnexpectedStatus) as foreign:
            await stranger.discover(ep.url, http_version=ep.http_version)
        assert foreign.value.status == 401
        with pytest.raises(UnexpectedStatus) as foreign_call:
            await _greet(stranger, ep)
        assert foreign_call.value.status == 401


async def test_key_loaded_from_a_pem_file_is_accepted(
    tmp_path: object, signed_endpoint: Callable[[str], Endpoint], identity_key: SigningKey
) -> None:
    """The PEM round trip (what `openssl genpkey -algorithm ed25519` writes) keeps the identity."""
    from pathlib import Path

    path = Path(str(tmp_path)) / "private.pem"
    identity_key.write_pem_file(path)
    loaded = SigningKey.from_env({"AWAKEN_REQUEST_IDENTITY_PRIVATE_KEY_PEM_FILE": str(path)})
    assert loaded is not None and loaded.public_key_id == identity_key.public_key_id
    ep = signed_endpoint("ts-h2")
    async with DeploymentClient(RequestSigner(loaded), timeouts=FAST) as c:
        assert (await c.discover(ep.url)).manifest.service("Reviews") is not None
