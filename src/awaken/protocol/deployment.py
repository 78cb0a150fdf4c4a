"""Talking to a deployment over HTTP: discovery, and invocation streams in both modes.

- `discover(url)`: `GET {url}/discover` over HTTP/2 (h2c prior knowledge) or HTTP/1.1, with
  the manifest versions we read in `accept`; the answer is validated (`parse_manifest`).
- `invoke(url, service, handler, version, messages, mode=...)`: `POST {url}/invoke/{s}/{h}`
  with content type `application/vnd.restate.invocation.vN`, the given messages as the start of
  the body, and an `InvocationStream` to read the SDK's messages from as they arrive:
  * REQUEST_RESPONSE: the body is complete when sent (HTTP/1.1, our own client on `httptools`, with
    kept-alive connections, or HTTP/2);
  * BIDI_STREAM (HTTP/2 only, our own `h2` client): the body stays open; `send` pushes more
    messages (completions) while the SDK writes, `end_input` closes it, which makes an SDK that
    waits on something it has not received suspend (how the runtime asks for a suspension).
The response must be 200 with the negotiated content type; anything else, a transport failure, a
timeout or bytes that do not decode, raises a `DeploymentError` / `CodecError`. Every request is
signed with the configured `RequestSigner` (or marked unsigned).
"""

from __future__ import annotations

import contextlib
import re
from collections import deque
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote, urlsplit

from awaken.protocol.errors import (
    DeploymentError,
    DeploymentTimeout,
    DeploymentUnreachable,
    UnexpectedContentType,
    UnexpectedStatus,
    UnsupportedVersion,
)
from awaken.protocol.framing import (
    DEFAULT_MAX_MESSAGE_SIZE,
    MessageDecoder,
    encode_message,
    encode_messages,
)
from awaken.protocol.h1client import H1Pool, H1Response
from awaken.protocol.h2client import H2Stream, Origin
from awaken.protocol.h2pool import H2Pool
from awaken.protocol.identity import RequestSigner
from awaken.protocol.manifest import EndpointManifest, ProtocolMode, parse_manifest
from awaken.protocol.messages import EndMessage, ErrorMessage, ProtocolMessage, SuspensionMessage
from awaken.protocol.versions import DISCOVERY_ACCEPT, ProtocolVersion, parse_manifest_content_type

HttpVersion = Literal["1.1", "2"]
_Call = tuple[
    str, "ProtocolVersion", "ProtocolMode", int, float
]  # url, version, mode, size limit, read timeout
MAX_MANIFEST_SIZE = 16 << 20
_TERMINAL = (EndMessage, SuspensionMessage, ErrorMessage)
_EXCERPT = 512
# After the SDK's last message in request/response mode only the end of the HTTP/1.1 body is left:
# it is read in the background (the connection is reused once it came) within these bounds.
_FINISH_S = 1.0
_FINISH_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds. `response` bounds the wait for response headers, `read` each wait for more data."""

    connect: float = 10.0
    response: float = 60.0
    read: float = 60.0
    write: float = 60.0


@dataclass(frozen=True, slots=True)
class Discovery:
    manifest: EndpointManifest
    manifest_version: int
    http_version: HttpVersion
    server: str | None  # the SDK's x-restate-server header, e.g. "restate-sdk-typescript/1.17.2"


_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e]*")
# Set by the client for every request (the protocol's content type, the request identity) or by
# HTTP itself (connection-specific fields, which HTTP/2 forbids).
RESERVED_HEADERS = frozenset(
    {
        "accept", "content-type", "content-length", "host", "connection", "keep-alive",
        "proxy-connection", "transfer-encoding", "upgrade", "te", "x-restate-signature-scheme",
        "x-restate-jwt-v1",
    }
)  # fmt: skip


def header_problem(headers: Mapping[str, str]) -> str | None:
    """Why `headers` cannot be sent with each request to a deployment, or None if they can: a
    name must be an HTTP token, not set by the client itself and not given twice (in any case); a
    value printable ASCII without surrounding whitespace."""
    seen: set[str] = set()
    for name, value in headers.items():
        if not _TOKEN.fullmatch(name):
            return f"{name!r} is not a header name"
        lower = name.lower()
        if lower in RESERVED_HEADERS:
            return f"{name!r} is set by awaken itself"
        if lower in seen:
            return f"{name!r} is given twice"
        seen.add(lower)
        if not _FIELD_VALUE.fullmatch(value) or value != value.strip(" \t"):
            return f"the value of {name!r} is not printable ASCII without surrounding whitespace"
    return None


def _split(url: str) -> tuple[Origin, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeploymentUnreachable(f"not an http(s) URL: {url!r}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise DeploymentUnreachable(f"bad port in {url!r}") from exc
    return Origin(parts.scheme, parts.hostname, port), parts.path.rstrip("/")


def invoke_path(service: str, handler: str) -> str:
    return f"/invoke/{quote(service, safe='')}/{quote(handler, safe='')}"


def _media(value: str | None) -> str | None:
    return None if value is None else value.split(";", 1)[0].strip().lower()


def _header(headers: Sequence[tuple[str, str]], name: str) -> str | None:
    return next((v for k, v in headers if k.lower() == name), None)


class InvocationStream:
    """The SDK's side of one invocation attempt, as typed messages."""

    def __init__(self, call: _Call) -> None:
        url, version, mode, max_message_size, read_timeout = call
        self.url = url
        self.version = version
        self.mode = mode
        self.headers: list[tuple[str, str]] = []
        self._decoder = MessageDecoder(max_message_size)
        self._pending: deque[ProtocolMessage] = deque()
        self._read_timeout = read_timeout
        self._done = False
        self._terminated = False
        self._saw_terminal = False  # the SDK sent End, Suspension or Error (its last message)

    @property
    def server(self) -> str | None:
        return _header(self.headers, "x-restate-server")

    async def send(self, *messages: ProtocolMessage) -> None:
        """Push messages to the SDK (bidirectional mode only)."""
        raise DeploymentError("a request/response invocation takes no messages after its start", self.url)

    def send_nowait(self, *messages: ProtocolMessage) -> bool:
        """Push messages to the SDK now if that needs no waiting (bidirectional mode, room in the
        flow-control window); False if `send` must do it."""
        return False

    async def end_input(self) -> None:
        """Close our side of the stream (bidirectional mode; a no-op once closed)."""

    async def _chunk(self, timeout: float | None) -> bytes | None:
        raise NotImplementedError

    async def receive(self, timeout: float | None = None) -> ProtocolMessage | None:
        """The SDK's next message, or None at the end of its stream.

        `timeout` (default: the client's read timeout) bounds the wait for more bytes; when it
        passes, `DeploymentTimeout` is raised and the stream stays usable (the caller may
        `end_input()` to ask for a suspension, then read on). In bidirectional mode the SDK's
        terminal message (End, Suspension, Error) is its last: `receive` returns None after it
        without waiting for the HTTP stream to end (some SDKs end it only once ours ended), and
        `aclose` resets the stream."""
        if self._terminated:
            return None
        while not self._pending:
            if self._done:
                return None
            chunk = await self._chunk(self._read_timeout if timeout is None else timeout)
            if chunk is None:
                self._done = True
                self._decoder.close()
                return None
            self._pending.extend(self._decoder.feed(chunk))
        message = self._pending.popleft()
        if isinstance(message, _TERMINAL):
            self._saw_terminal = True
            if self.mode is ProtocolMode.BIDI_STREAM:
                self._terminated = True
        return message

    async def __aiter__(self) -> AsyncIterator[ProtocolMessage]:
        while (message := await self.receive()) is not None:
            yield message

    async def collect(self, timeout: float | None = None) -> list[ProtocolMessage]:
        """Every remaining message until the SDK ends its stream."""
        out = []
        while (message := await self.receive(timeout)) is not None:
            out.append(message)
        return out

    async def aclose(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> InvocationStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class _H2Invocation(InvocationStream):
    def __init__(self, stream: H2Stream, call: _Call, write_timeout: float) -> None:
        super().__init__(call)
        self._stream = stream
        self._write_timeout = write_timeout

    async def send(self, *messages: ProtocolMessage) -> None:
        if self.mode is not ProtocolMode.BIDI_STREAM:
            await super().send(*messages)
        await self._stream.send(encode_messages(messages), timeout=self._write_timeout)

    def send_nowait(self, *messages: ProtocolMessage) -> bool:
        if self.mode is not ProtocolMode.BIDI_STREAM:
            return False
        return self._stream.send_nowait(encode_messages(messages))

    async def end_input(self) -> None:
        with contextlib.suppress(DeploymentError):
            await self._stream.end()

    async def _chunk(self, timeout: float | None) -> bytes | None:
        return await self._stream.receive(timeout)

    async def aclose(self) -> None:
        # After the SDK's terminal message the stream is released as answered: its connection
        # goes on to the next invocation (a stream reset early would retire it).
        await self._stream.aclose(answered=self._terminated)


class _H1Invocation(InvocationStream):
    def __init__(self, response: H1Response, call: _Call) -> None:
        super().__init__(call)
        self._response = response
        self.headers = response.headers

    async def _chunk(self, timeout: float | None) -> bytes | None:
        return await self._response.receive(timeout)

    async def aclose(self) -> None:
        if self._saw_terminal and not self._done:
            # The caller stops at the SDK's last message; the body's end follows at once.
            self._response.finish(limit=_FINISH_BYTES, timeout=_FINISH_S)
        else:
            await self._response.aclose()


class DeploymentClient:
    """HTTP client for deployments: connection pools for both HTTP versions, signing, limits."""

    def __init__(
        self,
        signer: RequestSigner | None = None,
        *,
        timeouts: Timeouts = Timeouts(),
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        extra_headers: Mapping[str, str] | None = None,
    ) -> None:
        self.signer = signer or RequestSigner(None)
        self.timeouts = timeouts
        self.max_message_size = max_message_size
        self.extra_headers = dict(extra_headers or {})
        self._h1 = H1Pool(connect_timeout=timeouts.connect)
        self._h2 = H2Pool(connect_timeout=timeouts.connect)

    async def aclose(self) -> None:
        await self._h1.aclose()
        await self._h2.aclose()

    async def __aenter__(self) -> DeploymentClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _headers(self, protocol_path: str, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = {**self.extra_headers, **(extra or {})}
        headers.update(self.signer.headers(protocol_path))
        return headers

    async def discover(
        self, url: str, *, http_version: HttpVersion = "2", headers: Mapping[str, str] | None = None
    ) -> Discovery:
        """Fetch and validate the endpoint manifest of the deployment at `url`."""
        origin, prefix = _split(url)
        path = prefix + "/discover"
        target = f"{origin.scheme}://{origin.authority}{path}"
        request_headers = {"accept": DISCOVERY_ACCEPT, **self._headers("/discover", headers)}
        if http_version == "1.1":
            status, response_headers, body = await self._get_http1(origin, path, request_headers)
        else:
            status, response_headers, body = await self._get_http2(origin, path, request_headers)
        if status != 200:
            raise UnexpectedStatus(status, _excerpt(body), target)
        content_type = _header(response_headers, "content-type")
        try:
            manifest_version = parse_manifest_content_type(content_type)
        except UnsupportedVersion as exc:
            raise UnexpectedContentType(
                "application/vnd.restate.endpointmanifest.vN+json", content_type, target
            ) from exc
        return Discovery(
            parse_manifest(body),
            manifest_version,
            http_version,
            _header(response_headers, "x-restate-server"),
        )

    async def _get_http1(
        self, origin: Origin, path: str, headers: Mapping[str, str]
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        response = await self._h1.request(
            origin,
            "GET",
            path,
            headers,
            write_timeout=self.timeouts.write,
            response_timeout=self.timeouts.response,
        )
        try:
            body = await response.read(MAX_MANIFEST_SIZE, self.timeouts.read)
        finally:
            await response.aclose()
        return response.status, response.headers, body

    async def _get_http2(
        self, origin: Origin, path: str, headers: Mapping[str, str]
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        stream = await self._h2.open_stream(
            origin, "GET", path, headers, end=True, send_timeout=self.timeouts.write
        )
        try:
            status, response_headers = await stream.response_head(self.timeouts.response)
            chunks, size = [], 0
            while (chunk := await stream.receive(self.timeouts.read)) is not None:
                size += len(chunk)
                if size > MAX_MANIFEST_SIZE:
                    raise DeploymentError(f"response larger than {MAX_MANIFEST_SIZE} bytes", stream.url)
                chunks.append(chunk)
        finally:
            await stream.aclose()
        return status, response_headers, b"".join(chunks)

    async def invoke(
        self,
        url: str,
        service: str,
        handler: str,
        version: ProtocolVersion,
        messages: Sequence[ProtocolMessage | bytes],
        *,
        mode: ProtocolMode = ProtocolMode.REQUEST_RESPONSE,
        http_version: HttpVersion = "2",
        headers: Mapping[str, str] | None = None,
    ) -> InvocationStream:
        """Start an attempt: send `messages` (StartMessage, then the journal; a message may be
        given encoded, as a frame) and return the stream.

        The caller must `aclose()` it (or use `async with`)."""
        origin, prefix = _split(url)
        protocol_path = invoke_path(service, handler)
        path = prefix + protocol_path
        target = f"{origin.scheme}://{origin.authority}{path}"
        request_headers = {
            "content-type": version.content_type,
            "accept": version.content_type,
            **self._headers(protocol_path, headers),
        }
        body = b"".join(x if isinstance(x, bytes) else encode_message(x) for x in messages)
        call: _Call = (target, version, mode, self.max_message_size, self.timeouts.read)
        if mode is ProtocolMode.BIDI_STREAM and http_version != "2":
            raise DeploymentError("bidirectional streaming needs HTTP/2", target)
        if http_version == "1.1":
            return await self._invoke_http1(origin, path, request_headers, body, call)
        stream = await self._h2.open_stream(
            origin,
            "POST",
            path,
            request_headers,
            body=body,
            end=mode is ProtocolMode.REQUEST_RESPONSE,
            send_timeout=self.timeouts.write,
        )
        try:
            status, response_headers = await stream.response_head(self.timeouts.response)
            invocation = _H2Invocation(stream, call, self.timeouts.write)
            invocation.headers = response_headers
            if status != 200:
                raise UnexpectedStatus(status, await _stream_excerpt(stream, self.timeouts.read), target)
            _check_content_type(version, _header(response_headers, "content-type"), target)
            return invocation
        except BaseException:
            await stream.aclose()
            raise

    async def _invoke_http1(
        self, origin: Origin, path: str, headers: dict[str, str], body: bytes, call: _Call
    ) -> InvocationStream:
        target = call[0]
        response = await self._h1.request(
            origin,
            "POST",
            path,
            headers,
            body,
            write_timeout=self.timeouts.write,
            response_timeout=self.timeouts.response,
        )
        try:
            if response.status != 200:
                excerpt = b""
                with contextlib.suppress(DeploymentError):
                    while len(excerpt) < _EXCERPT:
                        chunk = await response.receive(min(self.timeouts.read, 2.0))
                        if chunk is None:
                            break
                        excerpt += chunk
                raise UnexpectedStatus(response.status, _excerpt(excerpt), target)
            _check_content_type(call[1], _header(response.headers, "content-type"), target)
            return _H1Invocation(response, call)
        except BaseException:
            await response.aclose()
            raise


def _check_content_type(version: ProtocolVersion, actual: str | None, url: str) -> None:
    if _media(actual) != version.content_type:
        raise UnexpectedContentType(version.content_type, actual, url)


def _excerpt(body: bytes) -> str:
    text = body[:_EXCERPT].decode("utf-8", "replace")
    return "".join(c if c.isprintable() else " " for c in text).strip()


async def _stream_excerpt(stream: H2Stream, timeout: float) -> str:
    """The start of an error response's body. Some servers finish such an answer only after the
    request body ended, so our side is ended if the body does not come; not at once, since
    others (hypercorn) drop the connection on DATA for a stream whose response they finished."""
    data, ended = b"", False
    with contextlib.suppress(DeploymentError):
        while len(data) < _EXCERPT:
            try:
                chunk = await stream.receive(min(timeout, 2.0) if ended else 0.2)
            except DeploymentTimeout:
                if ended:
                    break
                await stream.end()
                ended = True
                continue
            if chunk is None:
                break
            data += chunk
    return _excerpt(data)
