"""The HTTP/2 client against a small real HTTP/2 server on loopback (the `h2` library, server side):
full duplex, flow control both ways, many streams on one connection, and each way a peer can fail."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.settings
import pytest

from awaken.protocol import ConnectionClosed, DeploymentTimeout, DeploymentUnreachable, StreamReset
from awaken.protocol.h2client import Origin
from awaken.protocol.h2pool import H2Pool
from tests.tls import self_signed_contexts


@dataclass
class Server:
    """Paths: /echo (echoes every chunk, ends once the client ended), /hang (echoes, never ends),
    /deaf (the server stops handling the connection, and keeps it open: as hypercorn does when a
    frame comes for a stream it dropped),
    /reset (RST_STREAM REFUSED_STREAM), /goaway, /close (drops the TCP connection), /noread (never
    opens its receive window again)."""

    max_streams: int = 100
    hold_settings: int = 0  # say nothing (not even SETTINGS) until this many streams are open
    connections: int = 0
    resets: int = 0  # RST_STREAM frames received
    most_open_streams: int = 0  # the most streams open at once on one connection
    port: int = 0
    tls: ssl.SSLContext | None = None  # with ALPN h2
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        )
        conn.initiate_connection()
        conn.update_settings({h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: self.max_streams})
        paths: dict[int, str] = {}
        open_now: set[int] = set()
        pending: dict[int, bytearray] = {}  # echo bytes waiting for the client's window
        ending: set[int] = set()
        try:
            if not self.hold_settings:
                writer.write(conn.data_to_send())
            deaf = False
            while data := await reader.read(65536):
                if deaf:
                    continue  # the connection is open, and nobody handles it
                if len(paths) < self.hold_settings:
                    conn.receive_data(data)  # (events of held streams: none need an answer)
                    for sid in conn.streams:
                        paths.setdefault(sid, "/echo")
                        pending.setdefault(sid, bytearray())
                        open_now.add(sid)
                    self.most_open_streams = max(self.most_open_streams, len(open_now))
                    if len(paths) < self.hold_settings:
                        continue
                    for sid in paths:
                        conn.send_headers(sid, [(":status", "200"), ("content-type", "text/plain")])
                    writer.write(conn.data_to_send())
                    await writer.drain()
                    continue
                for event in conn.receive_data(data):
                    match event:
                        case h2.events.RequestReceived(stream_id=sid, headers=headers):
                            path = dict(headers)[":path"]
                            paths[sid] = path
                            open_now.add(sid)
                            self.most_open_streams = max(self.most_open_streams, len(open_now))
                            if path == "/reset":
                                conn.reset_stream(sid, h2.errors.ErrorCodes.REFUSED_STREAM)
                            elif path == "/goaway":
                                conn.close_connection(last_stream_id=0)
                            elif path == "/close":
                                writer.close()
                                return
                            elif path == "/deaf":
                                deaf = True
                                break
                            else:
                                conn.send_headers(sid, [(":status", "200"), ("content-type", "text/plain")])
                                pending[sid] = bytearray()
                        case h2.events.DataReceived(stream_id=sid, data=chunk, flow_controlled_length=n):
                            if paths.get(sid) == "/noread":
                                continue
                            conn.acknowledge_received_data(n, sid)
                            pending[sid] += chunk
                        case h2.events.StreamEnded(stream_id=sid) if paths.get(sid) == "/echo":
                            ending.add(sid)
                        case h2.events.StreamReset(stream_id=sid):
                            self.resets += 1
                            pending.pop(sid, None)
                        case _:
                            pass
                if deaf:
                    continue  # not even what h2 queued already (a PING's acknowledgement)
                self._flush(conn, pending, ending)
                open_now &= set(pending)
                writer.write(conn.data_to_send())
                await writer.drain()
        except (ConnectionError, h2.exceptions.H2Error):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    @staticmethod
    def _flush(conn: h2.connection.H2Connection, pending: dict[int, bytearray], ending: set[int]) -> None:
        for sid, buf in list(pending.items()):
            while buf:
                window = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size)
                if window <= 0:
                    break
                conn.send_data(sid, bytes(buf[:window]))
                del buf[:window]
            if not buf and sid in ending:
                conn.end_stream(sid)
                ending.discard(sid)
                del pending[sid]


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    s = Server()
    await s.start()
    yield s
    await s.stop()


@pytest.fixture
async def pool() -> AsyncIterator[H2Pool]:
    p = H2Pool(connect_timeout=2.0)
    yield p
    await p.aclose()


def origin(server: Server) -> Origin:
    return Origin("http", "127.0.0.1", server.port)


async def read_all(stream: object, timeout: float = 5.0) -> bytes:
    out = b""
    while (chunk := await stream.receive(timeout)) is not None:  # type: ignore[attr-defined]
        out += chunk
    return out


async def test_full_duplex_on_one_stream(server: Server, pool: H2Pool) -> None:
    stream = await pool.open_stream(origin(server), "POST", "/echo", {}, body=b"first")
    assert (await stream.response_head(2.0))[0] == 200
    # What we sent comes back while our side is still open: true full duplex.
    assert await stream.receive(2.0) == b"first"
    await stream.send(b"second")
    assert await stream.receive(2.0) == b"second"
    await stream.end()
    assert await stream.receive(2.0) is None
    await stream.aclose()


async def test_send_nowait_sends_what_the_window_takes_and_leaves_the_rest_to_send(
    server: Server, pool: H2Pool
) -> None:
    echo = await pool.open_stream(origin(server), "POST", "/echo", {})
    assert echo.send_nowait(b"now")
    assert await echo.receive(2.0) == b"now"  # it left with the turn's write
    await echo.end()
    assert not echo.send_nowait(b"after the end")
    await echo.aclose()
    stream = await pool.open_stream(origin(server), "POST", "/noread", {})
    assert stream.send_nowait(b"x" * 1000)  # within the peer's window (64 KiB, never reopened)
    assert not stream.send_nowait(b"y" * 70_000)  # more than one frame, more than the window
    await stream.send(b"z" * 60_000, timeout=1.0)  # fills what is left but 4,532 bytes
    assert not stream.send_nowait(b"w" * 5000)
    with pytest.raises(DeploymentTimeout, match="flow-control window"):
        await stream.send(b"w" * 5000, timeout=0.3)  # what `send_nowait` left: `send` waits


async def test_flow_control_both_ways_with_a_large_body(server: Server, pool: H2Pool) -> None:
    """3 MiB through 1 MiB stream windows: sending waits for the server's window, echoes are
    acknowledged as we read them."""
    body = bytes(range(256)) * (3 * 4096)
    stream = await pool.open_stream(origin(server), "POST", "/echo", {})

    async def reader() -> bytes:
        return await read_all(stream)

    task = asyncio.create_task(reader())
    await stream.send(body, end=True, timeout=5.0)
    assert await asyncio.wait_for(task, 10) == body


async def test_many_concurrent_streams_share_one_connection(server: Server, pool: H2Pool) -> None:
    async def one(i: int) -> bytes:
        stream = await pool.open_stream(
            origin(server), "POST", "/echo", {}, body=f"msg {i}".encode(), end=True
        )
        try:
            return await read_all(stream)
        finally:
            await stream.aclose()

    results = await asyncio.gather(*(one(i) for i in range(64)))
    assert results == [f"msg {i}".encode() for i in range(64)]
    assert server.connections == 1


async def test_the_peers_stream_limit_opens_another_connection(pool: H2Pool) -> None:
    server = Server(max_streams=2)
    await server.start()
    try:
        # A first exchange so the client has seen the server's SETTINGS.
        first = await pool.open_stream(origin(server), "POST", "/echo", {}, body=b"x", end=True)
        assert await read_all(first) == b"x"
        await first.aclose()
        streams = [await pool.open_stream(origin(server), "POST", "/echo", {}) for _ in range(3)]
        assert server.connections == 2
        for s in streams:
            await s.send(b"y", end=True)
            assert await read_all(s) == b"y"
            await s.aclose()
    finally:
        await server.stop()


async def test_a_burst_on_a_new_connection_stays_within_100_streams_until_the_peer_says(
    pool: H2Pool,
) -> None:
    # 200 streams opened at once on a server that says nothing, SETTINGS included, until 100 are
    # open: a client that trusted h2's "unlimited" default before the SETTINGS would open them
    # all on one connection (hypercorn, whose limit is 100, then ends it with every stream on it).
    server = Server(hold_settings=100)
    await server.start()
    try:
        streams = await asyncio.gather(
            *(pool.open_stream(origin(server), "POST", "/echo", {}) for _ in range(200))
        )
        assert server.connections == 2
        for i, stream in enumerate(streams):
            await stream.send(f"m{i}".encode(), end=True)
        assert [await read_all(s) for s in streams] == [f"m{i}".encode() for i in range(200)]
        assert server.most_open_streams <= 100
        for stream in streams:
            await stream.aclose()
    finally:
        await server.stop()


async def test_a_reset_stream_is_a_stream_reset(server: Server, pool: H2Pool) -> None:
    stream = await pool.open_stream(origin(server), "POST", "/reset", {})
    with pytest.raises(StreamReset) as raised:
        await stream.response_head(2.0)
    assert raised.value.error_code == h2.errors.ErrorCodes.REFUSED_STREAM
    # The connection is fine for other streams.
    ok = await pool.open_stream(origin(server), "POST", "/echo", {}, body=b"z", end=True)
    assert await read_all(ok) == b"z"


async def test_goaway_fails_the_stream_and_the_next_one_gets_a_new_connection(
    server: Server, pool: H2Pool
) -> None:
    stream = await pool.open_stream(origin(server), "POST", "/goaway", {})
    with pytest.raises(ConnectionClosed, match="GOAWAY"):
        await stream.response_head(2.0)
    ok = await pool.open_stream(origin(server), "POST", "/echo", {}, body=b"again", end=True)
    assert await read_all(ok) == b"again"
    assert server.connections == 2


async def test_a_dropped_connection_fails_its_streams(server: Server, pool: H2Pool) -> None:
    waiting = await pool.open_stream(origin(server), "POST", "/echo", {})
    assert (await waiting.response_head(2.0))[0] == 200
    dropped = await pool.open_stream(origin(server), "POST", "/close", {})
    with pytest.raises(ConnectionClosed, match="closed the connection"):
        await dropped.response_head(2.0)
    with pytest.raises(ConnectionClosed):
        await waiting.receive(2.0)


async def test_a_peer_that_stops_reading_times_out_the_sender(server: Server, pool: H2Pool) -> None:
    stream = await pool.open_stream(origin(server), "POST", "/noread", {})
    with pytest.raises(DeploymentTimeout, match="flow-control window"):
        await stream.send(b"x" * (2 << 20), timeout=0.5)


async def test_silence_is_a_timeout_that_leaves_the_stream_usable(server: Server, pool: H2Pool) -> None:
    stream = await pool.open_stream(origin(server), "POST", "/echo", {})
    with pytest.raises(DeploymentTimeout, match="response data within"):
        await stream.receive(0.2)
    await stream.send(b"still here")
    assert await stream.receive(2.0) == b"still here"


async def test_a_stream_released_once_answered_leaves_its_connection_to_the_next(
    server: Server, pool: H2Pool
) -> None:
    # As a bidirectional invocation ends: the peer has said its last word (the SDK's End) but
    # ends its response only once the request ended; the stream is reset, the connection kept.
    for i in range(5):
        stream = await pool.open_stream(origin(server), "POST", "/hang", {}, body=b"last word %d" % i)
        assert await stream.receive(2.0) == b"last word %d" % i
        await stream.aclose(answered=True)
    assert server.connections == 1
    for _ in range(200):  # the last reset is on its way
        if server.resets == 5:
            break
        await asyncio.sleep(0.01)
    assert server.resets == 5


async def test_a_stream_given_up_unanswered_retires_its_connection(server: Server, pool: H2Pool) -> None:
    stream = await pool.open_stream(origin(server), "POST", "/hang", {}, body=b"x")
    assert await stream.receive(2.0) == b"x"
    await stream.aclose()  # we stopped waiting: the peer may have stopped answering altogether
    ok = await pool.open_stream(origin(server), "POST", "/echo", {}, body=b"y", end=True)
    assert await read_all(ok) == b"y"
    assert server.connections == 2


async def test_a_connection_is_retired_after_so_many_requests(server: Server) -> None:
    # Servers end a connection after so many requests with a GOAWAY (hypercorn, nginx: 1,000),
    # which would fail the streams still open on it: it is replaced before.
    pool = H2Pool(connect_timeout=2.0, requests_per_connection=3)
    try:
        for i in range(7):
            stream = await pool.open_stream(origin(server), "POST", "/echo", {}, body=b"%d" % i, end=True)
            assert await read_all(stream) == b"%d" % i
            await stream.aclose()
        assert server.connections == 3  # streams 1-3, 4-6, 7
        assert len(pool.connections(origin(server))) == 1
    finally:
        await pool.aclose()


async def test_a_connection_that_stops_answering_fails_its_streams_at_once(
    server: Server, pool: H2Pool
) -> None:
    waiting = await pool.open_stream(origin(server), "POST", "/hang", {}, body=b"w")
    assert await waiting.receive(2.0) == b"w"
    deaf = await pool.open_stream(origin(server), "POST", "/deaf", {})
    await deaf.end()  # the END_STREAM is followed by a PING, which nobody acknowledges
    began = asyncio.get_running_loop().time()
    with pytest.raises(ConnectionClosed, match="acknowledged no PING"):
        await waiting.receive(30.0)
    assert asyncio.get_running_loop().time() - began < 5
    # From now on each stream to that server gets a connection of its own (one stream it
    # mishandles takes down no other).
    for i in range(2):
        ok = await pool.open_stream(origin(server), "POST", "/echo", {}, body=b"next %d" % i, end=True)
        assert await read_all(ok) == b"next %d" % i
        await ok.aclose()
    assert server.connections == 3


async def test_refused_connection(pool: H2Pool) -> None:
    server = Server()
    await server.start()
    port = server.port
    await server.stop()
    with pytest.raises(DeploymentUnreachable, match="cannot connect"):
        await pool.open_stream(Origin("http", "127.0.0.1", port), "POST", "/echo", {})


async def test_https_streams_are_verified_and_full_duplex(tmp_path: Path) -> None:
    server_context, client_context = self_signed_contexts(tmp_path)
    server_context.set_alpn_protocols(["h2"])
    server = Server(tls=server_context)
    await server.start()
    origin = Origin("https", "127.0.0.1", server.port)
    try:
        async with contextlib.AsyncExitStack() as stack:
            pool = H2Pool(connect_timeout=2.0, ssl_context=client_context)
            stack.push_async_callback(pool.aclose)
            stream = await pool.open_stream(origin, "POST", "/echo", {}, body=b"over tls")
            assert await stream.receive(2.0) == b"over tls"
            await stream.send(b"and back")
            assert await stream.receive(2.0) == b"and back"
            await stream.end()
            assert await stream.receive(2.0) is None
            await stream.aclose()
            untrusting = H2Pool(connect_timeout=2.0)  # the system's CAs: not this certificate
            stack.push_async_callback(untrusting.aclose)
            with pytest.raises(DeploymentUnreachable, match="certificate"):
                await untrusting.open_stream(origin, "POST", "/echo", {}, body=b"x")
    finally:
        await server.stop()
