"""Thin httpx clients: call, send, attach, output, resolve/reject awakeables, list awakeables."""

from __future__ import annotations

import json
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx


class HttpError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


def _path(service: str, handler: str, key: str | None) -> str:
    parts = [service] + ([key] if key is not None else []) + [handler]
    return "/" + "/".join(quote(p, safe="") for p in parts)


def _decode(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        raise HttpError(response.status_code, body)
    return response.json() if response.content else None


class Client:
    """Synchronous client. `Client("http://127.0.0.1:8080", admin_url="http://127.0.0.1:9070")`."""

    def __init__(
        self,
        url: str = "http://127.0.0.1:8080",
        admin_url: str = "http://127.0.0.1:9070",
        timeout: float | None = 60.0,
    ) -> None:
        self._http = httpx.Client(base_url=url, timeout=timeout)
        self._admin = httpx.Client(base_url=admin_url, timeout=timeout)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()
        self._admin.close()

    def call(
        self,
        service: str,
        handler: str,
        arg: Any = None,
        key: str | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        headers = {"content-type": "application/json"}
        if idempotency_key:
            headers["idempotency-key"] = idempotency_key
        body = b"" if arg is None else json.dumps(arg).encode()
        return _decode(self._http.post(_path(service, handler, key), content=body, headers=headers))

    def send(
        self,
        service: str,
        handler: str,
        arg: Any = None,
        key: str | None = None,
        delay: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        headers = {"content-type": "application/json"}
        if idempotency_key:
            headers["idempotency-key"] = idempotency_key
        params = {"delay": delay} if delay else None
        body = b"" if arg is None else json.dumps(arg).encode()
        url = _path(service, handler, key) + "/send"
        result: dict[str, Any] = _decode(self._http.post(url, content=body, headers=headers, params=params))
        return result

    def attach(self, invocation_id: str) -> Any:
        return _decode(self._http.get(f"/restate/invocation/{invocation_id}/attach"))

    def output(self, invocation_id: str) -> Any:
        return _decode(self._http.get(f"/restate/invocation/{invocation_id}/output"))

    def resolve_awakeable(self, awakeable_id: str, payload: Any = None) -> dict[str, Any]:
        body = json.dumps(payload).encode()
        response = self._http.post(
            f"/restate/awakeables/{awakeable_id}/resolve",
            content=body,
            headers={"content-type": "application/json"},
        )
        result: dict[str, Any] = _decode(response)
        return result

    def reject_awakeable(self, awakeable_id: str, reason: str) -> dict[str, Any]:
        response = self._http.post(
            f"/restate/awakeables/{awakeable_id}/reject",
            content=reason.encode(),
            headers={"content-type": "text/plain"},
        )
        result: dict[str, Any] = _decode(response)
        return result

    def list_awakeables(self, limit: int = 100) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = _decode(self._admin.get("/awakeables", params={"limit": limit}))[
            "awakeables"
        ]
        return rows


class AsyncClient:
    """Asynchronous client with the same methods as Client."""

    def __init__(
        self,
        url: str = "http://127.0.0.1:8080",
        admin_url: str = "http://127.0.0.1:9070",
        timeout: float | None = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(base_url=url, timeout=timeout, transport=transport)
        self._admin = httpx.AsyncClient(base_url=admin_url, timeout=timeout)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()
        await self._admin.aclose()

    async def call(
        self,
        service: str,
        handler: str,
        arg: Any = None,
        key: str | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        headers = {"content-type": "application/json"}
        if idempotency_key:
            headers["idempotency-key"] = idempotency_key
        body = b"" if arg is None else json.dumps(arg).encode()
        return _decode(await self._http.post(_path(service, handler, key), content=body, headers=headers))

    async def send(
        self,
        service: str,
        handler: str,
        arg: Any = None,
        key: str | None = None,
        delay: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        headers = {"content-type": "application/json"}
        if idempotency_key:
            headers["idempotency-key"] = idempotency_key
        params = {"delay": delay} if delay else None
        body = b"" if arg is None else json.dumps(arg).encode()
        url = _path(service, handler, key) + "/send"
        result: dict[str, Any] = _decode(
            await self._http.post(url, content=body, headers=headers, params=params)
        )
        return result

    async def attach(self, invocation_id: str) -> Any:
        return _decode(await self._http.get(f"/restate/invocation/{invocation_id}/attach"))

    async def output(self, invocation_id: str) -> Any:
        return _decode(await self._http.get(f"/restate/invocation/{invocation_id}/output"))

    async def resolve_awakeable(self, awakeable_id: str, payload: Any = None) -> dict[str, Any]:
        response = await self._http.post(
            f"/restate/awakeables/{awakeable_id}/resolve",
            content=json.dumps(payload).encode(),
            headers={"content-type": "application/json"},
        )
        result: dict[str, Any] = _decode(response)
        return result

    async def reject_awakeable(self, awakeable_id: str, reason: str) -> dict[str, Any]:
        response = await self._http.post(
            f"/restate/awakeables/{awakeable_id}/reject",
            content=reason.encode(),
            headers={"content-type": "text/plain"},
        )
        result: dict[str, Any] = _decode(response)
        return result
