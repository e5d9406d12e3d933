"""HTTP/1.1 between peers: pooled keep-alive connections on asyncio, framing by httptools.

Why not httpx: forwarding is on the hot path, and httpx's connection pool costs about half
a millisecond per request and collapses under concurrency (16 concurrent requests on one
core: about 800 requests/s, p50 13 ms, against a server that answers 14,000/s). This
client does one thing, ``request(peer, method, path, body)``, on the event loop's own
protocol machinery and uvicorn's parser (httptools), and adds about 0.1 ms.

Connections are reused while the server keeps them alive and dropped after
``idle_seconds`` unused (below uvicorn's keep-alive, 65 s on nodes), and whenever a
request on them did not complete. A request that fails on a reused connection before any
byte of the answer arrived is sent once more on a fresh connection: the server closed
an idle connection, which says nothing about its health.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, cast

import httptools

_MAX_BODY: Final = 64 * 1024 * 1024  # a peer's answer is an item; refuse anything absurd


class PeerConnectionError(ConnectionError):
    """The exchange with a peer failed: refused, reset, closed early, or not HTTP.

    ``answered`` is True if part of an answer had arrived before the failure.
    """

    def __init__(self, message: str, *, answered: bool = True) -> None:
        super().__init__(message)
        self.answered = answered


class PeerUnreachableError(PeerConnectionError):
    """No connection could be made, so nothing was sent: trying another peer is safe."""


@dataclass(frozen=True, slots=True)
class PeerResponse:
    """What a peer answered: status, body, content type and headers (lower-case names), as they are."""

    status: int
    body: bytes
    content_type: str
    headers: Mapping[bytes, bytes] = field(default_factory=dict)


@dataclass(eq=False)
class _Exchange:
    """The parser's view of the response in progress."""

    future: asyncio.Future[PeerResponse]
    headers: dict[bytes, bytes] = field(default_factory=dict)
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0
    started: bool = False


class _Connection(asyncio.Protocol):
    """One keep-alive connection; at most one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.exchange: _Exchange | None = None
        self.closed = False
        self.keep_alive = True
        self.idle_since = time.monotonic()

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports don't subclass asyncio's

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(f"malformed HTTP from peer: {error}")
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(f"peer closed the connection{f': {exc}' if exc else ''}")

    # httptools callbacks

    def on_message_begin(self) -> None:
        if self.exchange is not None:
            self.exchange.started = True

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.exchange is not None:
            self.exchange.headers[name.lower()] = value

    def on_body(self, body: bytes) -> None:
        exchange = self.exchange
        if exchange is not None:
            exchange.size += len(body)
            if exchange.size > _MAX_BODY:
                self._fail("peer answer too large")
                self.close()
                return
            exchange.chunks.append(body)

    def on_message_complete(self) -> None:
        exchange, self.exchange = self.exchange, None
        if exchange is None or exchange.future.done():
            return
        self.keep_alive = self.parser.should_keep_alive()
        content_type = exchange.headers.get(b"content-type", b"application/json").decode("latin-1")
        exchange.future.set_result(
            PeerResponse(self.parser.get_status_code(), b"".join(exchange.chunks), content_type, exchange.headers)
        )

    # use

    def send(self, request: bytes) -> _Exchange:
        assert self.transport is not None
        assert self.exchange is None
        loop = asyncio.get_running_loop()
        self.exchange = _Exchange(loop.create_future())
        self.transport.write(request)
        return self.exchange

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _fail(self, message: str) -> None:
        exchange, self.exchange = self.exchange, None
        if exchange is not None and not exchange.future.done():
            exchange.future.set_exception(PeerConnectionError(message, answered=exchange.started))


class PeerClient:
    """Sends requests to peers (``host:port``) over pooled keep-alive connections.

    ``headers`` are added to every request. Callers bound the whole exchange with their
    own timeout (``asyncio.timeout``); a cancelled exchange closes its connection.
    """

    def __init__(
        self, *, headers: Mapping[str, str] | None = None, max_idle_per_peer: int = 64, idle_seconds: float = 30.0
    ) -> None:
        self._extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        self._max_idle = max_idle_per_peer
        self._idle_seconds = idle_seconds
        self._idle: defaultdict[str, deque[_Connection]] = defaultdict(deque)
        self._open: set[_Connection] = set()

    async def request(
        self,
        peer: str,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Sequence[tuple[str, str]] = (),
    ) -> PeerResponse:
        """Send one request to ``peer`` and return its answer. Raises :class:`PeerConnectionError`.

        ``headers`` are added to this request; a body is JSON unless they name a Content-Type.
        """
        head = f"{method} {path} HTTP/1.1\r\nHost: {peer}\r\n{self._extra}"
        for name, value in headers:
            if any(c in name or c in value for c in "\r\n"):
                raise ValueError(f"header {name!r} contains a line break")
            head += f"{name}: {value}\r\n"
        if body is not None:
            if not any(name.lower() == "content-type" for name, _ in headers):
                head += "Content-Type: application/json\r\n"
            head += f"Content-Length: {len(body)}\r\n"
        request = (head + "\r\n").encode("latin-1") + (body or b"")
        connection = self._take_idle(peer)
        if connection is not None:
            try:
                return await self._exchange(peer, connection, request)
            except PeerConnectionError as error:
                if error.answered:
                    raise
                # The peer had closed this idle connection: try once on a new one.
        return await self._exchange(peer, await self._connect(peer), request)

    async def aclose(self) -> None:
        """Close every connection."""
        for connection in list(self._open):
            connection.close()
        self._open.clear()
        self._idle.clear()

    def _take_idle(self, peer: str) -> _Connection | None:
        idle = self._idle.get(peer)
        now = time.monotonic()
        while idle:
            connection = idle.pop()  # the most recently used: the least likely to be closed
            if not connection.closed and now - connection.idle_since < self._idle_seconds:
                return connection
            connection.close()
            self._open.discard(connection)
        return None

    async def _connect(self, peer: str) -> _Connection:
        host, _, port = peer.rpartition(":")
        loop = asyncio.get_running_loop()
        try:
            _, connection = await loop.create_connection(_Connection, host.strip("[]"), int(port))
        except OSError as error:
            raise PeerUnreachableError(f"cannot connect to {peer}: {error.strerror or error}", answered=True) from None
        self._open.add(connection)
        return connection

    async def _exchange(self, peer: str, connection: _Connection, request: bytes) -> PeerResponse:
        exchange = connection.send(request)
        try:
            response = await exchange.future
        except BaseException:  # failed, cancelled or timed out: the connection's state is unknown
            self._open.discard(connection)
            connection.close()
            raise
        idle = self._idle[peer]
        if connection.keep_alive and not connection.closed and len(idle) < self._max_idle:
            connection.idle_since = time.monotonic()
            idle.append(connection)
        else:
            self._open.discard(connection)
            connection.close()
        return response
