"""Forwarding a request to the peer that owns its key: one hop, a short timeout, suspects.

A forwarded request carries :data:`FORWARDED_HEADER`; the receiving node always serves it
itself, so a request makes at most one hop even while two nodes' rings disagree. A peer
that fails (connection error, timeout) is *suspect* for ``suspect_seconds``: requests skip
it and go to the next node clockwise, then try it again. In-flight forwards are counted
per peer; they are the loads of bounded-load routing.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Final, Protocol

from services.api.metrics import Metrics
from services.api.peer_client import PeerClient, PeerConnectionError, PeerResponse

FORWARDED_HEADER: Final = "x-forwarded-by-peer"
"""Set on forwarded requests to the forwarding node's id. Its presence means: serve it here."""


class PeerFailedError(Exception):
    """A forward did not get an answer from the peer; the message names the peer and the cause."""

    def __init__(self, peer: str, reason: str) -> None:
        super().__init__(f"peer {peer}: {reason}")
        self.peer = peer


class PeerTransport(Protocol):
    """How requests reach peers: :class:`~services.api.peer_client.PeerClient` on a network;
    tests route them to apps in the same process."""

    async def request(self, peer: str, method: str, path: str, body: bytes | None = None) -> PeerResponse:
        """Send one request; raise :class:`PeerConnectionError` if the peer does not answer."""
        ...

    async def aclose(self) -> None:
        """Release the connections."""
        ...


class Forwarder:
    """Sends requests to peers over pooled keep-alive connections.

    ``transport`` replaces the network (tests route to in-process apps with it).
    """

    def __init__(
        self,
        node_id: str,
        *,
        timeout: float,
        suspect_seconds: float,
        metrics: Metrics,
        transport: PeerTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.timeout = timeout
        self.suspect_seconds = suspect_seconds
        self._metrics = metrics
        self._clock = clock
        self._client: PeerTransport = transport or PeerClient(headers={FORWARDED_HEADER: node_id})
        self._suspect_until: dict[str, float] = {}
        self.in_flight: defaultdict[str, int] = defaultdict(int)
        """Requests in progress per node: forwards to each peer, and this node's own (under its id).
        These are the loads of bounded-load routing."""

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._client.aclose()

    def is_suspect(self, peer: str) -> bool:
        """True while ``peer`` is skipped after a failure."""
        until = self._suspect_until.get(peer)
        if until is None:
            return False
        if until <= self._clock():
            del self._suspect_until[peer]  # time to try it again
            return False
        return True

    def suspects(self) -> list[str]:
        """The peers currently skipped."""
        return sorted(peer for peer in list(self._suspect_until) if self.is_suspect(peer))

    def mark_suspect(self, peer: str) -> None:
        """Skip ``peer`` for ``suspect_seconds``."""
        self._suspect_until[peer] = self._clock() + self.suspect_seconds

    async def send(self, peer: str, method: str, key: str, body: bytes | None = None) -> PeerResponse:
        """Send ``method /items/{key}`` to ``peer``; raise :class:`PeerFailedError` if it does not answer.

        A 5xx answer counts as a failure too (the peer cannot serve), but does not make the peer suspect.
        """
        path = f"/items/{key}"  # a valid key needs no escaping in a path
        self.in_flight[peer] += 1
        start = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout):  # one deadline for connecting, sending and reading
                response = await self._client.request(peer, method, path, body)
        except TimeoutError:
            self._metrics.outcome["timeout"].inc()
            self.mark_suspect(peer)
            raise PeerFailedError(peer, f"no answer within {self.timeout:g} s") from None
        except PeerConnectionError as error:
            self._metrics.outcome["error"].inc()
            self.mark_suspect(peer)
            raise PeerFailedError(peer, str(error)) from None
        finally:
            self.in_flight[peer] -= 1
        self._metrics.forward_latency.observe(time.perf_counter() - start)
        if response.status >= 500:
            self._metrics.outcome["error"].inc()
            raise PeerFailedError(peer, f"answered {response.status}")
        self._metrics.outcome["ok"].inc()
        return response
