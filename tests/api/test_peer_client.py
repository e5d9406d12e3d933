"""The peer client against a scripted HTTP server: keep-alive, framing, failures, timeouts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from services.api.peer_client import PeerClient, PeerConnectionError

pytestmark = pytest.mark.anyio

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, "Server"], Awaitable[None]]


class Server:
    """A loopback server that runs ``handler`` per connection and records what it saw."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.requests: list[bytes] = []
        self.server: asyncio.Server | None = None

    @property
    def peer(self) -> str:
        assert self.server is not None
        return f"127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.handler(reader, writer, self)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def read_request(self, reader: asyncio.StreamReader) -> bytes:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        request = head + await reader.readexactly(length)
        self.requests.append(request)
        return request


def ok(body: bytes = b'{"ok":true}', extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n%s\r\n%s" % (
        len(body),
        extra,
        body,
    )


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[Server]]]:
    servers: list[Server] = []

    async def start(handler: Handler) -> Server:
        server = Server(handler)
        server.server = await asyncio.start_server(server._serve, "127.0.0.1", 0)
        servers.append(server)
        return server

    yield start
    for server in servers:
        assert server.server is not None
        server.server.close()
        await server.server.wait_closed()


async def keep_answering(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
    while True:
        await server.read_request(reader)
        writer.write(ok())
        await writer.drain()


async def test_connections_are_kept_alive_and_reused(serve: Callable[[Handler], Awaitable[Server]]) -> None:
    server = await serve(keep_answering)
    client = PeerClient(headers={"x-forwarded-by-peer": "me:1"})
    try:
        for _ in range(3):
            answer = await client.request(server.peer, "GET", "/items/k")
            assert (answer.status, answer.body, answer.content_type) == (200, b'{"ok":true}', "application/json")
        put = await client.request(server.peer, "PUT", "/items/k", b'{"value":1}')
        assert put.status == 200
    finally:
        await client.aclose()
    assert server.connections == 1
    first, *_, last = server.requests
    assert first.startswith(b"GET /items/k HTTP/1.1\r\n")
    assert b"\r\nx-forwarded-by-peer: me:1\r\n" in first
    assert last.endswith(b'Content-Length: 11\r\n\r\n{"value":1}')


async def test_chunked_answers_are_assembled(serve: Callable[[Handler], Awaitable[Server]]) -> None:
    async def chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 404 Not Found\r\ntransfer-encoding: chunked\r\ncontent-type: application/json\r\n\r\n")
        writer.write(b'5\r\n{"a":\r\n3\r\n 1}\r\n0\r\n\r\n')
        await writer.drain()

    server = await serve(chunked)
    client = PeerClient()
    try:
        answer = await client.request(server.peer, "GET", "/x")
    finally:
        await client.aclose()
    assert (answer.status, answer.body) == (404, b'{"a": 1}')


async def test_a_connection_the_peer_closed_while_idle_is_replaced_silently(
    serve: Callable[[Handler], Awaitable[Server]],
) -> None:
    async def one_per_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
        await server.read_request(reader)
        writer.write(ok())  # says nothing about closing ...
        await writer.drain()
        await asyncio.sleep(0.05)  # ... then closes, as an idle timeout would

    server = await serve(one_per_connection)
    client = PeerClient()
    try:
        await client.request(server.peer, "GET", "/a")
        await asyncio.sleep(0.1)
        assert (await client.request(server.peer, "GET", "/b")).status == 200
    finally:
        await client.aclose()
    assert server.connections == 2


async def test_a_half_sent_answer_is_an_error_not_retried(serve: Callable[[Handler], Awaitable[Server]]) -> None:
    async def cut_short(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
        await server.read_request(reader)
        writer.write(b'HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{"partial')
        await writer.drain()

    server = await serve(cut_short)
    client = PeerClient()
    try:
        with pytest.raises(PeerConnectionError, match="closed the connection") as caught:
            await client.request(server.peer, "GET", "/a")
        assert caught.value.answered
    finally:
        await client.aclose()
    assert server.connections == 1


async def test_a_refused_connection_names_the_peer() -> None:
    client = PeerClient()
    with pytest.raises(PeerConnectionError, match=r"cannot connect to 127\.0\.0\.1:1"):
        await client.request("127.0.0.1:1", "GET", "/")
    await client.aclose()


async def test_garbage_is_an_error(serve: Callable[[Handler], Awaitable[Server]]) -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
        await server.read_request(reader)
        writer.write(b"SSH-2.0-OpenSSH\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(1)

    server = await serve(garbage)
    client = PeerClient()
    try:
        with pytest.raises(PeerConnectionError, match="malformed HTTP"):
            await client.request(server.peer, "GET", "/a")
    finally:
        await client.aclose()


async def test_a_timed_out_exchange_drops_its_connection(serve: Callable[[Handler], Awaitable[Server]]) -> None:
    async def slow_first(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
        await server.read_request(reader)
        if server.connections == 1:
            await asyncio.sleep(5)  # never answers in time
        writer.write(ok())
        await writer.drain()
        await keep_answering(reader, writer, server)

    server = await serve(slow_first)
    client = PeerClient()
    try:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                await client.request(server.peer, "GET", "/slow")
        assert (await client.request(server.peer, "GET", "/next")).status == 200  # a fresh connection
    finally:
        await client.aclose()
    assert server.connections == 2


async def test_a_request_dropped_unanswered_on_a_reused_connection_is_sent_once_more(
    serve: Callable[[Handler], Awaitable[Server]],
) -> None:
    async def drop_second(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
        await server.read_request(reader)
        if server.connections == 1:
            writer.write(ok())
            await writer.drain()
            await server.read_request(reader)  # the race: the peer closes as the request arrives
            return
        writer.write(ok(b'{"second":true}'))
        await writer.drain()

    server = await serve(drop_second)
    client = PeerClient()
    try:
        await client.request(server.peer, "GET", "/a")
        assert (await client.request(server.peer, "GET", "/b")).body == b'{"second":true}'
    finally:
        await client.aclose()
    assert server.connections == 2
    assert len(server.requests) == 3
