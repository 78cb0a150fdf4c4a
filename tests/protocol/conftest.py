"""Fixtures: real SDK endpoints (started once per session), awaken's identity key, a client.

`endpoint(name)` starts (once) and returns the endpoint `name` of `rig.ENDPOINTS`;
`signed_endpoint(name)` the same services requiring awaken's request identity key.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from awaken.protocol import DeploymentClient, RequestSigner, SigningKey, Timeouts
from tests import pg
from tests.protocol.rig import ENDPOINTS, Endpoint, start_endpoint, stop_endpoint

SDK_ENDPOINTS = ("ts-h2", "ts-h1", "py-hypercorn", "py-uvicorn")


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A database of this session on the test PostgreSQL server (emptied by the tests using it)."""
    name = f"awaken_protocol_{os.getpid()}"
    yield pg.fresh_database(name)
    pg.drop_database(name)


@pytest.fixture(scope="session")
def identity_key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture(scope="session")
def _endpoints(identity_key: SigningKey) -> Iterator[dict[tuple[str, bool], Endpoint]]:
    started: dict[tuple[str, bool], Endpoint] = {}
    yield started
    for endpoint in started.values():
        stop_endpoint(endpoint)


def _getter(
    started: dict[tuple[str, bool], Endpoint], identity_key: SigningKey, signed: bool
) -> Callable[[str], Endpoint]:
    def get(name: str) -> Endpoint:
        key = (name, signed)
        if key not in started:
            keys = (identity_key.public_key_id,) if signed else ()
            started[key] = start_endpoint(ENDPOINTS[name], keys)
        endpoint = started[key]
        assert endpoint.process.poll() is None, f"{name} endpoint died:\n{endpoint.log_tail()}"
        return endpoint

    return get


@pytest.fixture
def endpoint(
    _endpoints: dict[tuple[str, bool], Endpoint], identity_key: SigningKey
) -> Callable[[str], Endpoint]:
    return _getter(_endpoints, identity_key, signed=False)


@pytest.fixture
def signed_endpoint(
    _endpoints: dict[tuple[str, bool], Endpoint], identity_key: SigningKey
) -> Callable[[str], Endpoint]:
    return _getter(_endpoints, identity_key, signed=True)


FAST = Timeouts(connect=5.0, response=10.0, read=10.0, write=10.0)


@pytest.fixture
async def client() -> AsyncIterator[DeploymentClient]:
    async with DeploymentClient(timeouts=FAST) as c:
        yield c


@pytest.fixture
async def signing_client(identity_key: SigningKey) -> AsyncIterator[DeploymentClient]:
    async with DeploymentClient(RequestSigner(identity_key), timeouts=FAST) as c:
        yield c
