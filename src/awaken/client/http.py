"""Thin httpx clients of the ingress (call, send, attach, output, resolve/reject awakeables) and
of the admin API (services, invocations, awakeables, state).

Each operation is described once (`_Request`); `Client` and `AsyncClient` only send it. An error
answer raises `HttpError`; a server that cannot be reached raises httpx's `TransportError`s.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

_JSON = {"content-type": "application/json"}


class HttpError(Exception):
    """The server answered with an error status; `body` is its JSON (or text) body."""

    def __init__(self, status: int, body: Any, url: str = "") -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body
        self.url = url

    @property
    def message(self) -> str:
        """The error's message (Restate's error JSON has one), else the body as text."""
        if isinstance(self.body, dict) and isinstance(self.body.get("message"), str):
            return str(self.body["message"])
        return str(self.body or "").strip()


def _admin_headers(token: str | None) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"} if token else {}


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
        "POST",
        f"/restate/awakeables/{quote(awakeable_id, safe='')}/resolve",
        json.dumps(payload).encode(),
        _JSON,
    )


def _reject(awakeable_id: str, reason: str) -> _Request:
    headers = {"content-type": "text/plain"}
    return _Request(
        "POST", f"/restate/awakeables/{quote(awakeable_id, safe='')}/reject", reason.encode(), headers
    )


def _invocations(
    status: str | Iterable[str] | None,
    limit: int,
    service: str | None = None,
    handler: str | None = None,
    key: str | None = None,
    created_after_ms: int | None = None,
    created_before_ms: int | None = None,
    before: str | None = None,
) -> _Request:
    statuses = [status] if isinstance(status, str) else list(status or ())
    params = {"limit": str(limit)}
    for name, value in (
        ("status", ",".join(statuses) or None),
        ("service", service),
        ("handler", handler),
        ("key", key),
        ("created_after", None if created_after_ms is None else str(created_after_ms)),
        ("created_before", None if created_before_ms is None else str(created_before_ms)),
        ("before", before),
    ):
        if value is not None:
            params[name] = value
    return _Request("GET", "/invocations", params=params, admin=True)


def _act(invocation_id: str, action: str) -> _Request:
    return _Request("PATCH", f"/invocations/{quote(invocation_id, safe='')}/{action}", admin=True)


def _register(uri: str, use_http_11: bool, force: bool, headers: dict[str, str] | None) -> _Request:
    body: dict[str, Any] = {"uri": uri, "use_http_11": use_http_11, "force": force}
    if headers:
        body["additional_headers"] = headers
    return _Request("POST", "/deployments", json.dumps(body).encode(), _JSON, admin=True)


def _deployment(deployment_id: str, method: str = "GET", force: bool = False) -> _Request:
    params = {"force": "true"} if force else None
    return _Request(method, f"/deployments/{quote(deployment_id, safe='')}", params=params, admin=True)


def _decode(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        raise HttpError(response.status_code, body, str(response.request.url))
    try:
        return response.json() if response.content else None
    except ValueError:
        # a 2xx that is not JSON: not an awaken server (or not the port of the API asked)
        raise HttpError(response.status_code, response.text[:200], str(response.request.url)) from None


class Client:
    """Synchronous client. `Client("http://127.0.0.1:8080", admin_url="http://127.0.0.1:9070")`."""

    def __init__(
        self,
        url: str = "http://127.0.0.1:8080",
        admin_url: str = "http://127.0.0.1:9070",
        timeout: float | None = 60.0,
        admin_token: str | None = None,
    ) -> None:
        self._http = httpx.Client(base_url=url, timeout=timeout)
        self._admin = httpx.Client(base_url=admin_url, timeout=timeout, headers=_admin_headers(admin_token))

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

    def list_invocations(
        self, status: str | Iterable[str] | None = None, limit: int = 100, **filters: Any
    ) -> list[dict[str, Any]]:
        """Invocations, newest first (admin API), optionally of some statuses; `filters`:
        service, handler, key, created_after_ms, created_before_ms."""
        return list(self._do(_invocations(status, limit, **filters))["invocations"])

    def invocations_page(
        self, status: str | Iterable[str] | None = None, limit: int = 100, **filters: Any
    ) -> dict[str, Any]:
        """One page of `list_invocations`: {"invocations": [...], "next_page": cursor or None};
        pass `before=next_page` for the next one."""
        return dict(self._do(_invocations(status, limit, **filters)))

    def list_services(self) -> list[dict[str, Any]]:
        return list(self._do(_Request("GET", "/services", admin=True))["services"])

    def get_service(self, name: str) -> dict[str, Any]:
        """One service with its handlers' kinds and schemas (admin API)."""
        return dict(self._do(_Request("GET", f"/services/{quote(name, safe='')}", admin=True)))

    def get_invocation(self, invocation_id: str) -> dict[str, Any]:
        """One invocation with its journal (admin API)."""
        return dict(self._do(_Request("GET", f"/invocations/{quote(invocation_id, safe='')}", admin=True)))

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

    def register_deployment(
        self, uri: str, use_http_11: bool = False, force: bool = False, headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """Register the deployment at `uri` (admin API): its id and services."""
        return dict(self._do(_register(uri, use_http_11, force, headers)))

    def list_deployments(self) -> list[dict[str, Any]]:
        return list(self._do(_Request("GET", "/deployments", admin=True))["deployments"])

    def get_deployment(self, deployment_id: str) -> dict[str, Any]:
        return dict(self._do(_deployment(deployment_id)))

    def remove_deployment(self, deployment_id: str, force: bool = False) -> None:
        self._do(_deployment(deployment_id, "DELETE", force))


class AsyncClient:
    """Asynchronous client with the same methods as Client."""

    def __init__(
        self,
        url: str = "http://127.0.0.1:8080",
        admin_url: str = "http://127.0.0.1:9070",
        timeout: float | None = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
        admin_token: str | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(base_url=url, timeout=timeout, transport=transport)
        self._admin = httpx.AsyncClient(
            base_url=admin_url, timeout=timeout, headers=_admin_headers(admin_token)
        )

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

    async def list_invocations(
        self, status: str | Iterable[str] | None = None, limit: int = 100, **filters: Any
    ) -> list[dict[str, Any]]:
        """Invocations, newest first (admin API), optionally of some statuses; `filters`:
        service, handler, key, created_after_ms, created_before_ms."""
        page = await self._do(_invocations(status, limit, **filters))
        return list(page["invocations"])

    async def invocations_page(
        self, status: str | Iterable[str] | None = None, limit: int = 100, **filters: Any
    ) -> dict[str, Any]:
        """One page of `list_invocations`, with its `next_page` cursor (`before=`)."""
        return dict(await self._do(_invocations(status, limit, **filters)))

    async def list_services(self) -> list[dict[str, Any]]:
        return list((await self._do(_Request("GET", "/services", admin=True)))["services"])

    async def get_service(self, name: str) -> dict[str, Any]:
        """One service with its handlers' kinds and schemas (admin API)."""
        return dict(await self._do(_Request("GET", f"/services/{quote(name, safe='')}", admin=True)))

    async def get_invocation(self, invocation_id: str) -> dict[str, Any]:
        """One invocation with its journal (admin API)."""
        path = f"/invocations/{quote(invocation_id, safe='')}"
        return dict(await self._do(_Request("GET", path, admin=True)))

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

    async def register_deployment(
        self, uri: str, use_http_11: bool = False, force: bool = False, headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """Register the deployment at `uri` (admin API): its id and services."""
        return dict(await self._do(_register(uri, use_http_11, force, headers)))

    async def list_deployments(self) -> list[dict[str, Any]]:
        return list((await self._do(_Request("GET", "/deployments", admin=True)))["deployments"])

    async def get_deployment(self, deployment_id: str) -> dict[str, Any]:
        return dict(await self._do(_deployment(deployment_id)))

    async def remove_deployment(self, deployment_id: str, force: bool = False) -> None:
        await self._do(_deployment(deployment_id, "DELETE", force))
