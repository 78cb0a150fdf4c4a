"""httpx clients of the ingress and admin APIs (sync `Client`, async `AsyncClient`)."""

from awaken.client.http import AsyncClient, Client, HttpError

__all__ = ["AsyncClient", "Client", "HttpError"]
