"""The local balancer: choice of backend, health checks, proxying and its failure answers."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request, Response
from starlette.routing import Route

from services.local.balancer import MAX_BODY_BYTES, Backend, Balancer, Pool, Strategy, create_app
from services.local.cluster import free_port


async def _until(condition, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def _pool(*backends: Backend, strategy: Strategy = "least-outstanding") -> Pool:
    return Pool(strategy=strategy, backends={b.id: b for b in backends})


def test_least_outstanding_prefers_the_idle_backend_and_skips_unhealthy_ones() -> None:
    pool = _pool(
        Backend("a", "http://a", healthy=True), Backend("b", "http://b", healthy=True), Backend("c", "http://c")
    )
    pool.backends["a"].outstanding = 3
    assert {pool.choose().id for _ in range(10)} == {"b"}  # type: ignore[union-attr]
    pool.backends["a"].outstanding = 0
    assert {pool.choose().id for _ in range(10)} == {"a", "b"}  # type: ignore[union-attr]
    assert pool.choose(frozenset({"a", "b"})) is None


def test_round_robin_takes_turns() -> None:
    pool = _pool(*(Backend(name, f"http://{name}", healthy=True) for name in "abc"), strategy="round-robin")
    assert [pool.choose().id for _ in range(6)] == ["a", "b", "c", "a", "b", "c"]  # type: ignore[union-attr]


_SLOW_CALLS: Counter[str] = Counter()
"""Requests each backend's ``/slow`` received."""


def _backend_app(name: str) -> FastAPI:
    app = FastAPI()

    @app.post("/slow")
    async def slow() -> dict[str, str]:
        _SLOW_CALLS[name] += 1
        await asyncio.sleep(1)
        return {"status": "late"}

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.api_route("/echo/{rest:path}", methods=["GET", "POST", "PUT"])
    async def echo(rest: str, request: Request) -> Response:
        body = await request.body()
        return Response(
            content=body or rest.encode(),
            status_code=201 if request.method == "PUT" else 200,
            headers={
                "location": f"/echo/{rest}",
                "x-backend": name,
                "x-key": request.headers.get("idempotency-key", ""),
            },
            media_type=request.headers.get("content-type", "text/plain"),
        )

    return app


@pytest.fixture
def backends() -> Iterator[list[Backend]]:
    servers = []
    threads = []
    members = []
    for name in ("one", "two"):
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(_backend_app(name), host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        servers.append(server)
        threads.append(thread)
        members.append(Backend(name, f"http://127.0.0.1:{port}"))
    deadline = time.monotonic() + 10
    while not all(s.started for s in servers) and time.monotonic() < deadline:
        time.sleep(0.05)
    yield members
    for server in servers:
        server.should_exit = True
    for thread in threads:
        thread.join(timeout=10)


async def _with_balancer(backends: list[Backend], scenario, timeout: float = 5, admin_routes=()):  # type: ignore[no-untyped-def]
    pool = _pool(*backends)
    balancer = Balancer(pool, timeout=timeout)
    await balancer.check_health()
    transport = httpx.ASGITransport(app=create_app(balancer, admin_routes))
    async with httpx.AsyncClient(transport=transport, base_url="http://balancer") as client:
        try:
            return await scenario(client, pool)
        finally:
            await balancer.close()


def test_requests_reach_both_backends_with_headers_and_bodies(backends: list[Backend]) -> None:
    async def scenario(client: httpx.AsyncClient, pool: Pool) -> None:
        assert all(b.healthy for b in pool.backends.values())
        served = set()
        for i in range(6):
            response = await client.put(
                f"/echo/item-{i}?x=1",
                content=b'{"v": 1}',
                headers={"content-type": "application/json", "idempotency-key": "k1"},
            )
            assert response.status_code == 201
            assert response.content == b'{"v": 1}'
            assert response.headers["location"] == f"/echo/item-{i}"
            assert response.headers["x-key"] == "k1"
            assert response.headers["content-type"] == "application/json"
            served.add(response.headers["x-served-by-node"])
        assert served == {"one", "two"}
        too_big = await client.post("/echo/x", content=b"x" * (MAX_BODY_BYTES + 1))
        assert too_big.status_code == 413
        assert too_big.json()["error"]["code"] == "body_too_large"

    asyncio.run(_with_balancer(backends, scenario))


def test_every_path_and_method_is_proxied_and_admin_errors_use_the_error_body(backends: list[Backend]) -> None:
    async def admin(_request: Request) -> Response:
        return Response(b"{}", media_type="application/json")

    async def scenario(client: httpx.AsyncClient, pool: Pool) -> None:
        # A decoded line break in the path matches no route pattern: it is still the nodes' to answer.
        odd = await client.get("/echo/a%0Ab")
        assert odd.headers["x-served-by-node"] in pool.backends
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
            assert "x-served-by-node" in (await client.request(method, "/anything/at/all")).headers
        wrong = await client.delete("/_admin")
        assert wrong.status_code == 405
        assert wrong.headers["allow"] == "GET, HEAD"
        assert wrong.json()["error"] == {
            "code": "method_not_allowed",
            "message": "method DELETE is not allowed on /_admin",
        }

    asyncio.run(_with_balancer(backends, scenario, admin_routes=[Route("/_admin", admin, methods=["GET"])]))


def test_a_dead_backend_is_skipped_and_none_left_is_503(backends: list[Backend]) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead = Backend("dead", f"http://127.0.0.1:{closed.getsockname()[1]}", healthy=True)

    async def scenario(client: httpx.AsyncClient, pool: Pool) -> None:
        pool.backends["dead"] = dead  # healthy: the health check has not noticed yet
        for _ in range(4):
            response = await client.get("/echo/k")
            assert response.status_code == 200  # refused connections are retried on another node
        assert not pool.backends["dead"].healthy
        for backend in pool.backends.values():
            backend.healthy = False
        response = await client.get("/echo/k")
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "no_healthy_nodes"

    asyncio.run(_with_balancer(backends, scenario))


def test_a_request_that_times_out_is_502_and_not_sent_again(backends: list[Backend]) -> None:
    _SLOW_CALLS.clear()

    async def scenario(client: httpx.AsyncClient, pool: Pool) -> None:
        response = await client.post("/slow", json={})
        assert response.status_code == 502
        assert response.json()["error"]["code"] == "bad_gateway"
        assert all(b.outstanding == 0 and b.healthy for b in pool.backends.values())
        # On a busy machine the request may reach its backend only after the balancer gave up.
        await _until(lambda: sum(_SLOW_CALLS.values()) >= 1)
        await asyncio.sleep(0.2)  # time for a second copy, had one been sent, to arrive too
        assert sum(_SLOW_CALLS.values()) == 1  # it may have done its work: no second node gets it

    asyncio.run(_with_balancer(backends, scenario, timeout=0.3))
