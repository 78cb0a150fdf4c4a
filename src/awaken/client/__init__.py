"""httpx clients of the ingress and admin APIs (sync `Client`, async `AsyncClient`), and
restate-sdk's ingress client `create_client` (as `restate.client.create_client`)."""

from awaken.client.http import AsyncClient, Client, HttpError
from awaken.client.restate_client import IngressClient, ScopedIngressClient, create_client

__all__ = ["AsyncClient", "Client", "HttpError", "IngressClient", "ScopedIngressClient", "create_client"]
