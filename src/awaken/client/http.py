"""Thin httpx clients: call, send, attach, output, resolve/reject awakeables, list awakeables.

Each operation is described once (`_Request`); `Client` and `AsyncClient` only send it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

_JSON = {"content-type": "application/json"}


class HttpError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


@dataclass(frozen=True, slots=True)
class _Request:
    method: str
    path: str
    content: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] | None = None
    admin: bool = False


def _path(service: str, handler: str, key: str | None) -> str:
    parts = [service] + ([key] if key is not None else []) + [handler]
    return "/" + "/".join(quote(p, safe="") for p in parts)


def _body(arg: Any) -> bytes:
    return b"" if arg is None else json.dumps(arg).encode()


def _headers(idempotency_key: str | None) -> dict[str, str]:
    return {**_JSON, "idempotency-key": idempotency_key} if idempotency_key else dict(_JSON)


def _call(service: str, handler: str, arg: Any, key: str | None, idem: str | None) -> _Request:
    return _Request("POST", _path(service, handler, key), _body(arg), _headers(idem))


def _send(
    service: str, handler: str, arg: Any, key: str | None, delay: str | None, idem: str | None
) -> _Request:
    params = {"delay": delay} if delay else None
    return _Request("POST", _path(service, handler, key) + "/send", _body(arg), _headers(idem), params)


def _resolve(awakeable_id: str, payload: Any) -> _Request:
    return _Request(
        "POST", f"/restate/awakeables/{awakeable_id}/resolve", json.dumps(payload).encode(), _JSON
    )


def _reject(awakeable_id: str, reason: str) -> _Request:
    headers = {"content-type": "text/plain"}
    return _Request("POST", f"/restate/awakeables/{awakeable_id}/reject", reason.encode(), headers)


def _invocations(status: str | None, limit: int) -> _Request:
    params = {"limit": str(limit), **({"status": status} if status else {})}
    return _Request("GET", "/invocations", params=params, admin=True)


def _act(invocation_id: str, action: str) -> _Request:
    return _Request("PATCH", f"/invocations/{invocation_id}/{action}", admin=True)


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

    def _do(self, r: _Request) -> Any:
        http = self._admin if r.admin else self._http
        return _decode(http.request(r.method, r.path, content=r.content, headers=r.headers, params=r.params))

    def call(
        self,
        service: str,
        handler: str,
        arg: Any = None,
        key: str | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        return self._do(_call(service, handler, arg, key, idempotency_key))

    def send(
        self,
        service: str,
        handler: str,
        arg: Any = None,
        key: str | None = None,
        delay: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        result: dict[str, Any] = self._do(_send(service, handler, arg, key, delay, idempotency_key))
        return result

    def attach(self, invocation_id: str) -> Any:
        return self._do(_Request("GET", f"/restate/invocation/{invocation_id}/attach"))

    def output(self, invocation_id: str) -> Any:
        return self._do(_Request("GET", f"/restate/invocation/{invocation_id}/output"))

    def resolve_awakeable(self, awakeable_id: str, payload: Any = None) -> dict[str, Any]:
        result: dict[str, Any] = self._do(_resolve(awakeable_id, payload))
        return result

    def reject_awakeable(self, awakeable_id: str, reason: str) -> dict[str, Any]:
        result: dict[str, Any] = self._do(_reject(awakeable_id, reason))
        return result

    def list_awakeables(self, limit: int = 100) -> list[dict[str, Any]]:
        page = self._do(_Request("GET", "/awakeables", params={"limit": str(limit)}, admin=True))
        rows: list[dict[str, Any]] = page["awakeables"]
        return rows

    def list_invocations(self, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Invocations, newest first (admin API), optionally of one status."""
        return list(self._do(_invocations(status, limit))["invocations"])

    def get_invocation(self, invocation_id: str) -> dict[str, Any]:
        """One invocation with its journal (admin API)."""
        return dict(self._do(_Request("GET", f"/invocations/{invocation_id}", admin=True)))

    def cancel_invocation(self, invocation_id: str, kill: bool = False) -> dict[str, Any]:
        """Cancel (or kill) an invocation (admin API)."""
        return dict(self._do(_act(invocation_id, "kill" if kill else "cancel")))

    def purge_invocation(self, invocation_id: str) -> dict[str, Any]:
        return dict(self._do(_act(invocation_id, "purge")))

    def pause_invocation(self, invocation_id: str) -> dict[str, Any]:
        return dict(self._do(_act(invocation_id, "pause")))

    def resume_invocation(self, invocation_id: str) -> dict[str, Any]:
        return dict(self._do(_act(invocation_id, "resume")))

    def get_state(self, service: str, key: str) -> dict[str, Any]:
        """The state of a virtual object or workflow key (admin API): {name: JSON value}."""
        page = self._do(_Request("GET", f"/services/{service}/state/{quote(key, safe='')}", admin=True))
        return dict(page["state"])

    def replace_state(self, service: str, key: str, state: dict[str, Any]) -> None:
        """Replace the whole state of a key (admin API); 409 while an invocation holds the key."""
        body = json.dumps({"object_key": key, "new_state": state}).encode()
        self._do(_Request("POST", f"/services/{service}/state", body, _JSON, admin=True))


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

    async def _do(self, r: _Request) -> Any:
        http = self._admin if r.admin else self._http
        response = await http.request(r.method, r.path, content=r.content, headers=r.headers, params=r.params)
        return _decode(response)

    async def call(
        self,
        service: str,
        handler: str,
        arg: Any = None,
        key: str | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        return await self._do(_call(service, handler, arg, key, idempotency_key))

    async def send(
        self,
        service: str,
        handler: str,
        arg: Any = None,
        key: str | None = None,
        delay: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self._do(_send(service, handler, arg, key, delay, idempotency_key))
        return result

    async def attach(self, invocation_id: str) -> Any:
        return await self._do(_Request("GET", f"/restate/invocation/{invocation_id}/attach"))

    async def output(self, invocation_id: str) -> Any:
        return await self._do(_Request("GET", f"/restate/invocation/{invocation_id}/output"))

    async def resolve_awakeable(self, awakeable_id: str, payload: Any = None) -> dict[str, Any]:
        result: dict[str, Any] = await self._do(_resolve(awakeable_id, payload))
        return result

    async def reject_awakeable(self, awakeable_id: str, reason: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._do(_reject(awakeable_id, reason))
        return result

    async def list_awakeables(self, limit: int = 100) -> list[dict[str, Any]]:
        page = await self._do(_Request("GET", "/awakeables", params={"limit": str(limit)}, admin=True))
        rows: list[dict[str, Any]] = page["awakeables"]
        return rows

    async def list_invocations(self, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Invocations, newest first (admin API), optionally of one status."""
        page = await self._do(_invocations(status, limit))
        return list(page["invocations"])

    async def get_invocation(self, invocation_id: str) -> dict[str, Any]:
        """One invocation with its journal (admin API)."""
        return dict(await self._do(_Request("GET", f"/invocations/{invocation_id}", admin=True)))

    async def cancel_invocation(self, invocation_id: str, kill: bool = False) -> dict[str, Any]:
        """Cancel (or kill) an invocation (admin API)."""
        return dict(await self._do(_act(invocation_id, "kill" if kill else "cancel")))

    async def purge_invocation(self, invocation_id: str) -> dict[str, Any]:
        return dict(await self._do(_act(invocation_id, "purge")))

    async def pause_invocation(self, invocation_id: str) -> dict[str, Any]:
        return dict(await self._do(_act(invocation_id, "pause")))

    async def resume_invocation(self, invocation_id: str) -> dict[str, Any]:
        return dict(await self._do(_act(invocation_id, "resume")))

    async def get_state(self, service: str, key: str) -> dict[str, Any]:
        """The state of a virtual object or workflow key (admin API): {name: JSON value}."""
        page = await self._do(_Request("GET", f"/services/{service}/state/{quote(key, safe='')}", admin=True))
        return dict(page["state"])

    async def replace_state(self, service: str, key: str, state: dict[str, Any]) -> None:
        """Replace the whole state of a key (admin API); 409 while an invocation holds the key."""
        body = json.dumps({"object_key": key, "new_state": state}).encode()
        await self._do(_Request("POST", f"/services/{service}/state", body, _JSON, admin=True))
