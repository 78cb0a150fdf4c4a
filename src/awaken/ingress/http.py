"""Just enough ASGI: read a bounded body, parse the path, send a response."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote_to_bytes

from awaken.ingress.errors import HttpError, Source, error_body

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON_HEADERS = [(b"content-type", b"application/json")]


@dataclass(slots=True)
class HttpRequest:
    method: str
    segments: list[str]
    query: dict[str, list[str]]
    headers: dict[str, str]
    receive: Receive
    max_body: int

    @classmethod
    def from_scope(cls, scope: Scope, receive: Receive, max_body: int) -> HttpRequest:
        raw = scope.get("raw_path") or scope["path"].encode()
        path = raw.split(b"?", 1)[0].decode("latin-1")
        try:
            segments = [unquote_to_bytes(s).decode("utf-8") for s in path.split("/")[1:]]
        except UnicodeDecodeError:
            raise HttpError(400, "bad path: a percent-encoded segment is not UTF-8") from None
        if segments and segments[-1] == "":
            segments.pop()
        headers: dict[str, str] = {}
        for k, v in scope.get("headers", ()):
            headers[k.decode("latin-1").lower()] = v.decode("latin-1")
        raw_query = scope.get("query_string", b"")
        query = parse_qs(raw_query.decode("latin-1"), keep_blank_values=True) if raw_query else {}
        return cls(scope["method"], segments, query, headers, receive, max_body)

    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    async def body(self) -> bytes:
        declared = self.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            raise HttpError(413, f"request body is larger than the limit of {self.max_body} bytes")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise HttpError(400, "client disconnected")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise HttpError(413, f"request body is larger than the limit of {self.max_body} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


async def respond(
    send: Send, status: int, body: bytes = b"", headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    all_headers = list(headers or [])
    all_headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": body})


async def respond_json(
    send: Send, status: int, value: Any, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    await respond(send, status, json.dumps(value).encode(), JSON_HEADERS + list(headers or []))


async def respond_error(
    send: Send,
    status: int,
    body: bytes,
    source: Source = "ingress",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    all_headers = [*JSON_HEADERS, (b"x-restate-error-source", source.encode()), *(headers or [])]
    await respond(send, status, body, all_headers)


def error(status: int, message: str, source: Source = "ingress") -> tuple[int, bytes]:
    return status, error_body(status, message, source)
