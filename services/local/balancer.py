"""A small HTTP load balancer standing in for the ALB on one machine.

It spreads requests over the healthy web nodes (least outstanding requests, ties broken
round-robin, like the ALB's ``least_outstanding_requests``; or plain round-robin),
health-checks them on ``/healthz``, and proxies the whole API. A request that could not
reach a node at all (connection refused: the node is down) is retried once on another
node, since nothing was sent; any other failure answers 502, as the ALB would.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

import httpx
import structlog
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import Receive, Scope, Send

from services.api.errors import error_response
from services.api.limits import BodyLimitMiddleware
from services.api.peer_client import PeerClient, PeerConnectionError, PeerUnreachableError

log = structlog.get_logger(__name__)

Strategy = Literal["least-outstanding", "round-robin"]
MAX_BODY_BYTES: Final = 2 * 1024 * 1024
_HOP_BY_HOP: Final = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "content-encoding",  # httpx hands over decoded bodies
    }
)
_FROM_THE_BALANCER: Final = frozenset({"date", "server"})
"""Headers of a node's answer the balancer's own server sets: passing the node's on would send two."""


@dataclass(slots=True)
class Backend:
    """One web node behind the balancer."""

    id: str
    url: str
    healthy: bool = False
    outstanding: int = 0
    failures: int = 0
    served: int = 0

    @property
    def address(self) -> str:
        """``host:port`` of the backend."""
        return self.url.removeprefix("http://")


@dataclass(slots=True)
class Pool:
    """The backends and the choice among them."""

    strategy: Strategy = "least-outstanding"
    backends: dict[str, Backend] = field(default_factory=dict)
    _turn: itertools.count[int] = field(default_factory=itertools.count)

    def healthy(self) -> list[Backend]:
        """The members that passed their last health check, in id order."""
        return [b for _, b in sorted(self.backends.items()) if b.healthy]

    def choose(self, exclude: frozenset[str] = frozenset()) -> Backend | None:
        """The next backend for a request, or None when no healthy one is left."""
        candidates = [b for b in self.healthy() if b.id not in exclude]
        if not candidates:
            return None
        turn = next(self._turn)
        if self.strategy == "round-robin":
            return candidates[turn % len(candidates)]
        fewest = min(b.outstanding for b in candidates)
        tied = [b for b in candidates if b.outstanding == fewest]
        return tied[turn % len(tied)]


class Balancer:
    """The proxy and its health checker."""

    def __init__(
        self,
        pool: Pool,
        *,
        timeout: float = 30.0,
        health_interval: float = 1.0,
        unhealthy_after: int = 2,
    ) -> None:
        self.pool = pool
        self._client = PeerClient()
        self._timeout = timeout
        self._health_client = httpx.AsyncClient(timeout=min(2.0, health_interval * 2))
        self._health_interval = health_interval
        self._unhealthy_after = unhealthy_after

    async def close(self) -> None:
        """Close the HTTP clients."""
        await self._client.aclose()
        await self._health_client.aclose()

    async def check_health(self) -> None:
        """Probe every backend's /healthz once."""

        async def probe(backend: Backend) -> None:
            try:
                ok = (await self._health_client.get(f"{backend.url}/healthz")).status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                if not backend.healthy:
                    log.info("backend healthy", backend=backend.id)
                backend.healthy, backend.failures = True, 0
            else:
                backend.failures += 1
                if backend.healthy and backend.failures >= self._unhealthy_after:
                    backend.healthy = False
                    log.warning("backend unhealthy", backend=backend.id)

        await asyncio.gather(*(probe(b) for b in list(self.pool.backends.values())))

    async def health_loop(self) -> None:
        """Probe the backends forever, every ``health_interval`` seconds."""
        while True:
            await self.check_health()
            await asyncio.sleep(self._health_interval)

    async def proxy(self, request: Request) -> Response:
        """Send ``request`` to a healthy backend and return its response."""
        body = await request.body()
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP]
        headers.append(("x-forwarded-for", request.client.host if request.client else "unknown"))
        path = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")
        if request.url.query:
            path += f"?{request.url.query}"
        method = "GET" if request.method == "HEAD" else request.method  # the body is dropped on the way back
        tried: frozenset[str] = frozenset()
        for _ in range(2):
            backend = self.pool.choose(tried)
            if backend is None:
                return error_response(503, "no_healthy_nodes", "no healthy web node to serve the request")
            tried |= {backend.id}
            backend.outstanding += 1
            try:
                async with asyncio.timeout(self._timeout):
                    upstream = await self._client.request(backend.address, method, path, body or None, headers)
            except PeerUnreachableError:
                backend.healthy = False  # nothing was sent: safe to try another node
                log.warning("backend refused the connection", backend=backend.id)
                continue
            except (PeerConnectionError, TimeoutError) as error:
                log.warning("backend failed", backend=backend.id, error=str(error) or type(error).__name__)
                return error_response(502, "bad_gateway", f"node {backend.id} failed: {str(error) or 'timed out'}")
            finally:
                backend.outstanding -= 1
            backend.served += 1
            out_headers = {
                name: v.decode("latin-1")
                for k, v in upstream.headers.items()
                if (name := k.decode("latin-1")) not in _HOP_BY_HOP and name not in _FROM_THE_BALANCER
            }
            out_headers["x-served-by-node"] = backend.id
            return Response(upstream.body, status_code=upstream.status, headers=out_headers)
        return error_response(502, "bad_gateway", "every node tried refused the connection")


def create_app(balancer: Balancer, admin_routes: Sequence[BaseRoute] = ()) -> Starlette:
    """The balancer as an ASGI app: ``admin_routes`` first (the ``/_cluster`` API), then the proxy.

    Every request that no admin route matches is proxied, whatever its method and path (a
    catch-all route would miss paths with a decoded line break). Errors of the admin API
    (a wrong method) use the standard error body. Request bodies over :data:`MAX_BODY_BYTES`
    are refused with 413 before they are buffered.
    """

    async def proxied(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # websockets are not proxied
            await send({"type": "websocket.close", "code": 1003})
            return
        response = await balancer.proxy(Request(scope, receive))
        await response(scope, receive, send)

    async def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        message = f"method {request.method} is not allowed on {request.url.path}" if error.status_code == 405 else None
        response = error_response(
            error.status_code, "method_not_allowed" if message else "http_error", message or str(error.detail)
        )
        response.headers.update(error.headers or {})
        if "allow" in response.headers:  # Starlette lists the methods in set order: sort them
            response.headers["allow"] = ", ".join(sorted(m.strip() for m in response.headers["allow"].split(",")))
        return response

    app = Starlette(
        routes=list(admin_routes),
        middleware=[Middleware(BodyLimitMiddleware, max_bytes=MAX_BODY_BYTES)],
        exception_handlers={HTTPException: http_error},
    )
    app.router.default = proxied
    return app
