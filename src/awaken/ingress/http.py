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


class BodyBudget:
    """The bytes of request bodies that all requests together may hold at once: past it a request
    is refused with 503 (try again later) rather than read, so that many large bodies at once
    cannot take the server's memory. A body of declared length takes its share before a byte is
    read; a chunked one takes it as it arrives."""

    __slots__ = ("in_use", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_use = 0

    def take(self, size: int) -> bool:
        if self.in_use + size > self.limit:
            return False
        self.in_use += size
        return True

    def give_back(self, size: int) -> None:
        self.in_use -= size


def _over_budget(budget: BodyBudget) -> HttpError:
    return HttpError(
        503,
        f"too many request bodies at once (more than {budget.limit} bytes in flight): try again shortly",
    )


@dataclass(slots=True)
class HttpRequest:
    method: str
    segments: list[str]
    query: dict[str, list[str]]
    headers: dict[str, str]
    receive: Receive
    max_body: int
    budget: BodyBudget | None = None
    held: int = 0  # bytes of the budget this request holds (`release` gives them back)

    @classmethod
    def from_scope(
        cls, scope: Scope, receive: Receive, max_body: int, budget: BodyBudget | None = None
    ) -> HttpRequest:
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
        return cls(scope["method"], segments, query, headers, receive, max_body, budget)

    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    async def body(self) -> bytes:
        """The whole body, within `max_body` (413) and the shared `budget` (503); the bytes it
        takes of the budget are held until `release`."""
        declared = self.headers.get("content-length")
        budget = self.budget
        if declared is not None and declared.isdigit():
            length = int(declared)
            if length > self.max_body:
                raise HttpError(413, f"request body is larger than the limit of {self.max_body} bytes")
            if budget is not None and length > self.held:
                if not budget.take(length - self.held):
                    raise _over_budget(budget)
                self.held = length
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
            if budget is not None and size > self.held:
                if not budget.take(size - self.held):
                    raise _over_budget(budget)
                self.held = size
            if not message.get("more_body", False):
                if not chunks:
                    return bytes(chunk)  # one chunk: no copy (bytes of bytes is the same object)
                chunks.append(chunk)
                return b"".join(chunks)
            chunks.append(chunk)

    def release(self) -> None:
        """Give back what the body took of the budget (the request is answered)."""
        if self.held and self.budget is not None:
            self.budget.give_back(self.held)
        self.held = 0


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
