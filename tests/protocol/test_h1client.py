"""The HTTP/1.1 client of request/response invocations (`awaken.protocol.h1client`): connections
are kept alive and reused without the delayed-ACK stall, and every way a server can break an
exchange is one clear `DeploymentError` after which the broken connection is not used again.

Against the real restate-sdk under uvicorn (the rig's), and against scripted servers on loopback
sockets that answer each request of a connection as a test says."""

from __future__ import annotations

import asyncio
import ssl
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from awaken.protocol import (
    ConnectionClosed,
    DeploymentClient,
    DeploymentError,
    DeploymentTimeout,
    DeploymentUnreachable,
    ProtocolMode,
    ProtocolVersion,
    Timeouts,
    UnexpectedStatus,
    random_start_id,
)
from awaken.protocol.framing import encode_messages
from awaken.protocol.h1client import H1Pool
from awaken.protocol.h2client import Origin
from awaken.protocol.messages import (
    EndMessage,
    InputCommand,
    OutputCommand,
    ProtocolMessage,
    StartMessage,
    Value,
)
from tests.protocol.rig import Endpoint
from tests.tls import self_signed_contexts

SHORT = Timeouts(connect=2.0, response=0.5, read=0.5, write=2.0)
CONTENT_TYPE = ProtocolVersion.V5.content_type
ANSWER = encode_messages([OutputCommand(result=Value(b'"x"')), EndMessage()])


@pytest.fixture
async def client() -> AsyncIterator[DeploymentClient]:
    async with DeploymentClient(timeouts=SHORT) as c:
        yield c


def _start() -> list[ProtocolMessage]:
    start = StartMessage(id=random_start_id(), debug_id="inv_1h1client", known_entries=1)
    return [start, InputCommand(value=Value(b'"x"'))]


async def _attempt(
    client: DeploymentClient, url: str, service: str = "S", handler: str = "h"
) -> list[object]:
    """One request/response attempt, read (as the engine does) up to the SDK's End."""
    stream = await client.invoke(
        url,
        service,
        handler,
        ProtocolVersion.V5,
        _start(),
        mode=ProtocolMode.REQUEST_RESPONSE,
        http_version="1.1",
    )
    out: list[object] = []
    async with stream:
        while (message := await stream.receive()) is not None:
            out.append(message)
            if isinstance(message, EndMessage):
                break
    return out


def _client_ports_to(port: int) -> set[int]:
    """Local ports of the ESTABLISHED loopback TCP connections to `port` (IPv4, this machine)."""
    ports = set()
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            local, remote, state = line.split()[1:4]
            if state == "01" and int(remote.split(":")[1], 16) == port:
                ports.add(int(local.split(":")[1], 16))
    return ports


async def test_attempts_to_a_uvicorn_served_sdk_reuse_their_connection_without_a_stall(
    endpoint: Callable[[str], Endpoint], client: DeploymentClient
) -> None:
    """restate-sdk under the rig's uvicorn leaves Nagle's algorithm on (asyncio sets no TCP_NODELAY
    on a socket made with protocol 0): it holds its End chunk and the body's end until its first
    segment is acknowledged. Reading to the body's end on a kept-alive connection then cost ~44 ms
    per attempt (Linux delays that ACK); on a fresh connection ~2 ms. Both are asserted: one
    connection (two if an attempt starts before the previous body's end came), and attempts far
    below the delayed ACK."""
    ep = endpoint("py-uvicorn")
    port = urlsplit(ep.url).port or 0
    seen: set[int] = set()
    durations = []
    for _ in range(50):
        began = time.perf_counter()
        assert await _attempt(client, ep.url, "Greeter", "greet") == [
            OutputCommand(result=Value(b'"Hello x!"')),
            EndMessage(),
        ]
        durations.append(time.perf_counter() - began)
        seen |= _client_ports_to(port)
    assert 1 <= len(seen) <= 2, seen
    assert statistics.median(durations) < 0.015, sorted(durations)


class ScriptedServer:
    """A loopback HTTP/1.1 server: each request (head and content-length body read) is answered by
    `answer(writer, n)`, n counting the requests of its connection from 0; `accepted` counts the
    connections, `ended` is set when one ends. An answer that closes the writer ends its connection."""

    def __init__(
        self,
        answer: Callable[[asyncio.StreamWriter, int], Awaitable[None]],
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.answer = answer
        self.tls = tls
        self.accepted = 0
        self.requests = 0
        self.ended = asyncio.Event()  # set whenever a connection ends
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> ScriptedServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._handlers:
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)  # type: ignore[arg-type]
        n = 0
        try:
            while not writer.is_closing():
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":", 1)[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                await reader.readexactly(length)
                self.requests += 1
                await self.answer(writer, n)
                n += 1
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            self.ended.set()


def _head(status: int = 200, *fields: str) -> bytes:
    lines = [f"HTTP/1.1 {status} X", f"content-type: {CONTENT_TYPE}", *fields]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def _ok(writer: asyncio.StreamWriter, n: int) -> None:
    writer.write(_head(200, f"content-length: {len(ANSWER)}") + ANSWER)
    await writer.drain()


async def test_a_kept_alive_connection_serves_the_next_attempts(client: DeploymentClient) -> None:
    async with ScriptedServer(_ok) as server:
        for _ in range(5):
            assert await _attempt(client, server.url) == [OutputCommand(result=Value(b'"x"')), EndMessage()]
        assert (server.accepted, server.requests) == (1, 5)


@pytest.mark.parametrize("close_after", [0.0, 0.05])
async def test_a_pooled_connection_the_server_closed_is_replaced_without_an_error(
    close_after: float, client: DeploymentClient
) -> None:
    """The server answers and then closes, without `connection: close` (as a keep-alive timeout
    does), at once (the next request may be on its way) or once the connection is idle: the
    closed connection is found before a request is written to it."""

    async def answer_then_close(writer: asyncio.StreamWriter, n: int) -> None:
        await _ok(writer, n)
        if close_after:
            await asyncio.sleep(close_after)
        writer.close()

    async with ScriptedServer(answer_then_close) as server:
        for _ in range(5):
            assert await _attempt(client, server.url) == [OutputCommand(result=Value(b'"x"')), EndMessage()]
            if close_after:
                await asyncio.sleep(2 * close_after)
        assert (server.accepted, server.requests) == (5, 5)


async def test_a_response_cut_mid_body_is_connection_closed_and_its_connection_is_dropped(
    client: DeploymentClient,
) -> None:
    async def cut_first(writer: asyncio.StreamWriter, n: int) -> None:
        if server.accepted == 1:
            writer.write(_head(200, "transfer-encoding: chunked") + b"40\r\n" + ANSWER[:5])
            await writer.drain()
            writer.close()
        else:
            await _ok(writer, n)

    async with ScriptedServer(cut_first) as server:
        with pytest.raises(ConnectionClosed, match="mid-response"):
            await _attempt(client, server.url)
        assert await _attempt(client, server.url) == [OutputCommand(result=Value(b'"x"')), EndMessage()]
        assert server.accepted == 2


async def test_a_response_given_up_before_its_end_closes_its_connection(client: DeploymentClient) -> None:
    """The caller stops reading before the SDK's last message (a failed attempt): what is left of
    the body may never come, so the connection is closed, not pooled."""

    async def first_message_then_wait(writer: asyncio.StreamWriter, n: int) -> None:
        first = encode_messages([OutputCommand(result=Value(b'"x"'))])
        writer.write(
            _head(200, "transfer-encoding: chunked") + f"{len(first):x}\r\n".encode() + first + b"\r\n"
        )
        await writer.drain()

    async with ScriptedServer(first_message_then_wait) as server:
        for _ in range(2):
            stream = await client.invoke(
                server.url, "S", "h", ProtocolVersion.V5, _start(), http_version="1.1"
            )
            async with stream:
                assert await stream.receive() == OutputCommand(result=Value(b'"x"'))
        assert server.accepted == 2


async def test_a_body_left_open_after_the_sdks_end_does_not_hold_the_attempt(
    client: DeploymentClient,
) -> None:
    """After the SDK's End the rest of the body is awaited in the background, for a second at
    most: the attempt ends at once, and a connection whose body never ends is closed, not pooled."""

    async def end_then_keep_open(writer: asyncio.StreamWriter, n: int) -> None:
        chunk = f"{len(ANSWER):x}\r\n".encode() + ANSWER + b"\r\n"
        writer.write(_head(200, "transfer-encoding: chunked") + chunk)
        await writer.drain()

    async with ScriptedServer(end_then_keep_open) as server:
        began = time.monotonic()
        assert await _attempt(client, server.url) == [OutputCommand(result=Value(b'"x"')), EndMessage()]
        assert time.monotonic() - began < 0.5
        await asyncio.wait_for(server.ended.wait(), 5.0)  # the client closed it
        assert time.monotonic() - began > 0.9


async def test_a_non_200_answer_carries_an_excerpt_and_keeps_the_connection(client: DeploymentClient) -> None:
    async def unavailable_first(writer: asyncio.StreamWriter, n: int) -> None:
        if n == 0:
            text = b"overloaded, try later"
            writer.write(_head(503, f"content-length: {len(text)}") + text)
            await writer.drain()
        else:
            await _ok(writer, n)

    async with ScriptedServer(unavailable_first) as server:
        with pytest.raises(UnexpectedStatus, match="overloaded, try later") as raised:
            await _attempt(client, server.url)
        assert raised.value.status == 503
        assert await _attempt(client, server.url) == [OutputCommand(result=Value(b'"x"')), EndMessage()]
        assert server.accepted == 1


async def test_no_answer_and_a_stalled_body_are_timeouts(client: DeploymentClient) -> None:
    async def silent_or_stalled(writer: asyncio.StreamWriter, n: int) -> None:
        if server.accepted == 2:
            writer.write(_head(200, f"content-length: {len(ANSWER)}") + ANSWER[:3])
            await writer.drain()
        await asyncio.sleep(10)

    async with ScriptedServer(silent_or_stalled) as server:
        began = time.monotonic()
        with pytest.raises(DeploymentTimeout, match="response headers"):
            await _attempt(client, server.url)
        with pytest.raises(DeploymentTimeout, match="response data"):
            await _attempt(client, server.url)
        assert time.monotonic() - began < 3.0
        assert server.accepted == 2


async def test_garbage_chunk_framing_is_a_clear_error(client: DeploymentClient) -> None:
    async def bad_chunks(writer: asyncio.StreamWriter, n: int) -> None:
        writer.write(_head(200, "transfer-encoding: chunked") + b"zz-not-hex\r\n" + ANSWER + b"\r\n0\r\n\r\n")
        await writer.drain()

    async with ScriptedServer(bad_chunks) as server:
        with pytest.raises(ConnectionClosed, match="malformed response"):
            await _attempt(client, server.url)


async def test_a_huge_response_head_is_refused(client: DeploymentClient) -> None:
    async def huge_header(writer: asyncio.StreamWriter, n: int) -> None:
        writer.write(_head(200, "x-padding: " + "a" * (1 << 20)))
        await writer.drain()

    async with ScriptedServer(huge_header) as server:
        with pytest.raises(ConnectionClosed, match="malformed response"):
            await _attempt(client, server.url)


async def test_a_response_head_that_never_ends_is_refused(client: DeploymentClient) -> None:
    """One header field, sent in pieces without end: refused once it passes the limit, not
    buffered as long as the server sends."""

    async def endless_field(writer: asyncio.StreamWriter, n: int) -> None:
        writer.write(b"HTTP/1.1 200 X\r\nx-padding: ")
        for _ in range(200):
            writer.write(b"a" * 4096)
            await writer.drain()
            await asyncio.sleep(0)

    async with ScriptedServer(endless_field) as server:
        with pytest.raises(ConnectionClosed, match="response head over 65536 bytes"):
            await _attempt(client, server.url)


async def test_informational_responses_are_skipped(client: DeploymentClient) -> None:
    async def continue_first(writer: asyncio.StreamWriter, n: int) -> None:
        writer.write(b"HTTP/1.1 100 Continue\r\nx-info: 1\r\n\r\n")
        await _ok(writer, n)

    async with ScriptedServer(continue_first) as server:
        for _ in range(2):
            assert await _attempt(client, server.url) == [OutputCommand(result=Value(b'"x"')), EndMessage()]
        assert (server.accepted, server.requests) == (1, 2)


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(_head(200, f"content-length: {len(ANSWER)}", "connection: close") + ANSWER, id="close"),
        pytest.param(_head(200, f"content-length: {len(ANSWER)}") + ANSWER + b"HTTP/1.1 200", id="trailing"),
    ],
)
async def test_a_connection_the_response_leaves_unusable_is_not_reused(
    answer: bytes, client: DeploymentClient
) -> None:
    """`connection: close`, or bytes after the response (they would be taken for the next
    response): the attempt succeeds, and the next one gets a new connection."""

    async def respond(writer: asyncio.StreamWriter, n: int) -> None:
        writer.write(answer)
        await writer.drain()

    async with ScriptedServer(respond) as server:
        for _ in range(3):
            assert await _attempt(client, server.url) == [OutputCommand(result=Value(b'"x"')), EndMessage()]
        assert (server.accepted, server.requests) == (3, 3)


async def test_a_body_delimited_by_the_end_of_the_connection_is_read_to_its_end(
    client: DeploymentClient,
) -> None:
    async def then_close(writer: asyncio.StreamWriter, n: int) -> None:
        writer.write(_head(200) + ANSWER[:4])
        await writer.drain()
        await asyncio.sleep(0.01)
        writer.write(ANSWER[4:])
        await writer.drain()
        writer.close()

    async with ScriptedServer(then_close) as server:
        stream = await client.invoke(server.url, "S", "h", ProtocolVersion.V5, _start(), http_version="1.1")
        async with stream:
            assert await stream.collect() == [OutputCommand(result=Value(b'"x"')), EndMessage()]


async def test_a_huge_discovery_answer_is_refused(client: DeploymentClient) -> None:
    async def endless_manifest(writer: asyncio.StreamWriter, n: int) -> None:
        writer.write(_head(200, "transfer-encoding: chunked"))
        block = b"x" * (1 << 20)
        while not writer.is_closing():
            writer.write(f"{len(block):x}\r\n".encode() + block + b"\r\n")
            await writer.drain()

    async with ScriptedServer(endless_manifest) as server:
        with pytest.raises(DeploymentError, match="response larger than"):
            await client.discover(server.url, http_version="1.1")


async def test_https_connections_are_verified_and_kept_alive(tmp_path: Path) -> None:
    server_context, client_context = self_signed_contexts(tmp_path)
    async with ScriptedServer(_ok, tls=server_context) as server:
        origin = Origin("https", "127.0.0.1", server.port)
        pool = H1Pool(ssl_context=client_context)
        try:
            for _ in range(3):
                response = await pool.request(
                    origin, "POST", "/invoke/S/h", {"content-type": CONTENT_TYPE}, b"x"
                )
                assert (response.status, await response.read(1 << 20, 2.0)) == (200, ANSWER)
                await response.aclose()
        finally:
            await pool.aclose()
        assert (server.accepted, server.requests) == (1, 3)
        # a certificate nobody vouches for is refused
        with pytest.raises(DeploymentUnreachable, match="CERTIFICATE_VERIFY_FAILED"):
            async with DeploymentClient(timeouts=SHORT) as strict:
                await strict.discover(f"https://127.0.0.1:{server.port}", http_version="1.1")
