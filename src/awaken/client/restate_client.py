"""`create_client`: restate-sdk's ingress client (`restate.create_client`), on httpx.

Typed calls take the handler function, as restate-sdk's do: its input serde encodes the argument,
its output serde decodes the answer. Paths are the unversioned `/{service}[/{key}]/{handler}`
(`/send` for sends, `?delay=<ms>`), and `/restate/scope/{scope}/call|send/...` for scoped ones.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from awaken.client_types import HttpError, RestateClient, RestateClientSendHandle, RestateScopedClient
from awaken.sdk.context import HandlerType
from awaken.sdk.serde import BytesSerde
from awaken.sdk.service import handler_spec_of

I = TypeVar("I")  # noqa: E741
O = TypeVar("O")  # noqa: E741


def _path(service: str, handler: str, key: str | None, send: bool, scope: str | None) -> str:
    target = "/".join(quote(p, safe="") for p in (service, key, handler) if p is not None)
    if scope is not None:
        return f"/restate/scope/{quote(scope, safe='')}/{'send' if send else 'call'}/{target}"
    return f"/{target}/send" if send else f"/{target}"


class IngressClient(RestateClient):
    """The client `create_client` yields."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    def scope(self, scope: str) -> RestateScopedClient:
        return ScopedIngressClient(self, scope)

    async def _post(
        self,
        service: str,
        handler: str,
        body: bytes,
        *,
        key: str | None = None,
        send: bool = False,
        send_delay: timedelta | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
        content_type: str | None = None,
        scope: str | None = None,
        limit_key: str | None = None,
    ) -> httpx.Response:
        all_headers = dict(headers or {})
        if content_type is not None and not any(k.lower() == "content-type" for k in all_headers):
            all_headers["content-type"] = content_type
        if idempotency_key is not None:
            all_headers["idempotency-key"] = idempotency_key
        if limit_key is not None:
            all_headers["x-restate-limit-key"] = limit_key
        params = None
        if send and send_delay is not None:
            params = {"delay": str(int(send_delay.total_seconds() * 1000))}  # bare milliseconds
        path = _path(service, handler, key, send, scope)
        response = await self.http.post(path, content=body, headers=all_headers, params=params)
        if response.status_code >= 400:
            raise HttpError(response.status_code, response.reason_phrase, response.text)
        return response

    async def _typed(
        self,
        tpe: HandlerType[I, O],
        arg: I,
        key: str | None = None,
        *,
        send: bool = False,
        send_delay: timedelta | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
        scope: str | None = None,
        limit_key: str | None = None,
    ) -> Any:
        spec = handler_spec_of(tpe)
        response = await self._post(
            spec.service,
            spec.name,
            spec.input_serde.serialize(arg),
            key=key,
            send=send,
            send_delay=send_delay,
            idempotency_key=idempotency_key,
            headers=headers,
            content_type=spec.content_type if spec.takes_input else None,
            scope=scope,
            limit_key=limit_key,
        )
        if send:
            return _send_handle(response)
        return spec.output_serde.deserialize(response.content)

    async def service_call(
        self,
        tpe: HandlerType[I, O],
        arg: I,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> O:
        result: O = await self._typed(tpe, arg, idempotency_key=idempotency_key, headers=headers)
        return result

    async def service_send(
        self,
        tpe: HandlerType[I, O],
        arg: I,
        send_delay: timedelta | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> RestateClientSendHandle:
        handle: RestateClientSendHandle = await self._typed(
            tpe, arg, send=True, send_delay=send_delay, idempotency_key=idempotency_key, headers=headers
        )
        return handle

    async def object_call(
        self,
        tpe: HandlerType[I, O],
        key: str,
        arg: I,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> O:
        result: O = await self._typed(tpe, arg, key, idempotency_key=idempotency_key, headers=headers)
        return result

    async def object_send(
        self,
        tpe: HandlerType[I, O],
        key: str,
        arg: I,
        send_delay: timedelta | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> RestateClientSendHandle:
        handle: RestateClientSendHandle = await self._typed(
            tpe, arg, key, send=True, send_delay=send_delay, idempotency_key=idempotency_key, headers=headers
        )
        return handle

    async def workflow_call(
        self,
        tpe: HandlerType[I, O],
        key: str,
        arg: I,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> O:
        return await self.object_call(tpe, key, arg, idempotency_key, headers)

    async def workflow_send(
        self,
        tpe: HandlerType[I, O],
        key: str,
        arg: I,
        send_delay: timedelta | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> RestateClientSendHandle:
        return await self.object_send(tpe, key, arg, send_delay, idempotency_key, headers)

    async def generic_call(
        self,
        service: str,
        handler: str,
        arg: bytes,
        key: str | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
        scope: str | None = None,
        limit_key: str | None = None,
    ) -> bytes:
        response = await self._post(
            service,
            handler,
            BytesSerde().serialize(arg),
            key=key,
            idempotency_key=idempotency_key,
            headers=headers,
            scope=scope,
            limit_key=limit_key,
        )
        return response.content

    async def generic_send(
        self,
        service: str,
        handler: str,
        arg: bytes,
        key: str | None = None,
        send_delay: timedelta | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
        scope: str | None = None,
        limit_key: str | None = None,
    ) -> RestateClientSendHandle:
        response = await self._post(
            service,
            handler,
            BytesSerde().serialize(arg),
            key=key,
            send=True,
            send_delay=send_delay,
            idempotency_key=idempotency_key,
            headers=headers,
            scope=scope,
            limit_key=limit_key,
        )
        return _send_handle(response)


def _send_handle(response: httpx.Response) -> RestateClientSendHandle:
    try:
        invocation_id = str(json.loads(response.content).get("invocationId", ""))
    except (ValueError, AttributeError):
        invocation_id = ""
    return RestateClientSendHandle(invocation_id, response.status_code)


class ScopedIngressClient(RestateScopedClient):
    """`client.scope(name)`: the client's calls and sends, carrying the scope."""

    def __init__(self, client: IngressClient, scope: str) -> None:
        self.client = client
        self.scope_key = scope

    async def service_call(
        self,
        tpe: HandlerType[I, O],
        arg: I,
        limit_key: str | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> O:
        result: O = await self.client._typed(
            tpe,
            arg,
            idempotency_key=idempotency_key,
            headers=headers,
            scope=self.scope_key,
            limit_key=limit_key,
        )
        return result

    async def service_send(
        self,
        tpe: HandlerType[I, O],
        arg: I,
        send_delay: timedelta | None = None,
        limit_key: str | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> RestateClientSendHandle:
        handle: RestateClientSendHandle = await self.client._typed(
            tpe,
            arg,
            send=True,
            send_delay=send_delay,
            idempotency_key=idempotency_key,
            headers=headers,
            scope=self.scope_key,
            limit_key=limit_key,
        )
        return handle

    async def object_call(
        self,
        tpe: HandlerType[I, O],
        key: str,
        arg: I,
        limit_key: str | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> O:
        result: O = await self.client._typed(
            tpe,
            arg,
            key,
            idempotency_key=idempotency_key,
            headers=headers,
            scope=self.scope_key,
            limit_key=limit_key,
        )
        return result

    async def object_send(
        self,
        tpe: HandlerType[I, O],
        key: str,
        arg: I,
        send_delay: timedelta | None = None,
        limit_key: str | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> RestateClientSendHandle:
        handle: RestateClientSendHandle = await self.client._typed(
            tpe,
            arg,
            key,
            send=True,
            send_delay=send_delay,
            idempotency_key=idempotency_key,
            headers=headers,
            scope=self.scope_key,
            limit_key=limit_key,
        )
        return handle

    async def workflow_call(
        self,
        tpe: HandlerType[I, O],
        key: str,
        arg: I,
        limit_key: str | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> O:
        return await self.object_call(tpe, key, arg, limit_key, idempotency_key, headers)

    async def workflow_send(
        self,
        tpe: HandlerType[I, O],
        key: str,
        arg: I,
        send_delay: timedelta | None = None,
        limit_key: str | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> RestateClientSendHandle:
        return await self.object_send(tpe, key, arg, send_delay, limit_key, idempotency_key, headers)


@contextlib.asynccontextmanager
async def create_client(
    ingress: str | None = None,
    headers: dict[str, str] | None = None,
    journal_value_codec: Any | None = None,
) -> AsyncIterator[RestateClient]:
    """An ingress client of `ingress` (e.g. "http://127.0.0.1:8080"), sending `headers` with
    every request. restate-sdk's Restate Cloud defaults (no URL: RESTATE_INGRESS_KEY) and journal
    value codecs are not supported: both are refused rather than ignored."""
    if not ingress:
        raise ValueError("create_client(): pass the ingress URL, e.g. 'http://127.0.0.1:8080'")
    if journal_value_codec is not None:
        raise NotImplementedError("journal value codecs are not supported by awaken")
    async with httpx.AsyncClient(base_url=ingress, headers=headers or {}) as http:
        yield IngressClient(http)


__all__ = ["IngressClient", "ScopedIngressClient", "create_client"]
