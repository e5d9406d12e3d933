"""The Redis tier against the real local Redis: copies, version checks, invalidation between
nodes (in this process and across two processes), hot keys and warming them."""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import redis
import redis.asyncio as aioredis

from services.api.app import create_app
from services.api.node import Node
from services.api.redis_tier import HotKeys, RedisTier
from services.db import make_engine
from services.items.redis_layout import RedisLayout
from services.items.store import ItemStore
from services.items.warming import warm_hot_items
from services.local.cluster import free_port
from tests.api.conftest import node_settings
from tests.api.processes import NodeProcesses


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A key and channel prefix of this test's own; its keys are deleted afterwards."""
    name = f"t{secrets.token_hex(4)}:"
    yield name
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{name}*"))
    if keys:
        client.delete(*keys)
    client.close()


@contextlib.asynccontextmanager
async def running(settings: Any) -> AsyncIterator[tuple[Node, httpx.AsyncClient]]:
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{settings.api_node_id}") as client,
    ):
        yield app.state.node, client


async def until(condition: Any, timeout: float = 15.0) -> None:
    with anyio.fail_after(timeout):
        while not await condition():
            await anyio.sleep(0.02)


@pytest.mark.anyio
async def test_a_fresh_node_finds_the_copy_in_redis(sqlite_url: str, redis_url: str, prefix: str) -> None:
    settings = {"redis_url": redis_url, "redis_prefix": prefix}
    async with running(node_settings(sqlite_url, **settings)) as (_, client):
        await client.put("/items/k", json={"value": {"x": 1}})
    async with running(node_settings(sqlite_url, **settings)) as (_, client):
        tiers = [(await client.get("/items/k")).json()["cache"] for _ in range(2)]
    assert tiers == ["redis", "local"]
    raw = redis.Redis.from_url(redis_url).get(f"{prefix}item:k")
    assert raw == b'1:{"x":1}'


@pytest.mark.anyio
async def test_redis_never_takes_an_older_version(redis_url: str, prefix: str) -> None:
    client = aioredis.from_url(redis_url)
    tier = RedisTier(client, layout=RedisLayout(prefix), ttl=60, node="n")
    try:
        assert await tier.put("k", b'"v3"', 3)
        assert not await tier.put("k", b'"v2"', 2)
        assert await tier.get("k") == (b'"v3"', 3)
        assert await tier.put("k", b'"v4"', 4)
        assert await tier.get("k") == (b'"v4"', 4)
        assert 0 < await client.ttl(f"{prefix}item:k") <= 60
    finally:
        await client.aclose()


@pytest.mark.anyio
async def test_a_write_elsewhere_invalidates_this_nodes_copy(sqlite_url: str, redis_url: str, prefix: str) -> None:
    """Two nodes that each own every key (separate rings) share Redis: P's copy must go when Q writes."""
    common = {"redis_url": redis_url, "redis_prefix": prefix}
    async with (
        running(node_settings(sqlite_url, "127.0.0.1:8001", **common)) as (p_node, p),
        running(node_settings(sqlite_url, "127.0.0.1:8002", **common)) as (_, q),
    ):
        await until(lambda: _listening(p_node))
        await p.put("/items/k", json={"value": "old"})
        assert (await p.get("/items/k")).json()["cache"] == "local"
        await q.put("/items/k", json={"value": "new"})
        await until(lambda: _dropped(p_node, "k"))
        answer = (await p.get("/items/k")).json()
        assert (answer["value"], answer["cache"], answer["version"]) == ("new", "redis", 2)
        metrics = (await p.get("/metrics")).text
        assert 'api_cache_invalidations_total{reason="write"} 1.0' in metrics


async def _listening(node: Node) -> bool:
    return node.redis is not None and node.redis.listening


async def _dropped(node: Node, key: str) -> bool:
    return key not in node.items.cache


@pytest.mark.anyio
async def test_reads_are_counted_as_hot_keys(redis_url: str, prefix: str) -> None:
    client = aioredis.from_url(redis_url)
    layout = RedisLayout(prefix)
    hot = HotKeys(client, layout=layout, keep=3)
    try:
        for key, reads in {"a": 5, "b": 1, "c": 3, "d": 2}.items():
            for _ in range(reads):
                hot.record(key)
        assert await hot.flush() == 3  # "d" came after three distinct keys were waiting
        hot.record("d")
        hot.record("d")
        assert await hot.flush() == 1
        ranked = await client.zrevrange(layout.hot, 0, -1, withscores=True)
        assert ranked == [(b"a", 5.0), (b"c", 3.0), (b"d", 2.0)]  # trimmed to the 3 hottest
    finally:
        await client.aclose()


def test_warming_copies_the_hottest_items_without_replacing_newer_ones(
    tmp_path: Path, redis_url: str, prefix: str
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'items.db'}")
    client = redis.Redis.from_url(redis_url)
    layout = RedisLayout(prefix)
    try:
        store = ItemStore(engine)
        for key in ("hot", "warm", "cold", "newer"):
            store.put(key, f'"{key}"')
        client.zadd(layout.hot, {"hot": 10, "warm": 5, "newer": 4, "gone": 3, "cold": 1})
        client.set(layout.item("newer"), b'7:"from redis"')
        counts = warm_hot_items(store, client, layout=layout, ttl=60, top=4)
        assert counts == {"hot_keys": 4, "warmed": 2, "missing": 1, "newer_in_redis": 1}
        assert client.get(layout.item("hot")) == b'1:"hot"'
        assert client.get(layout.item("warm")) == b'1:"warm"'
        assert client.get(layout.item("newer")) == b'7:"from redis"'
        assert client.get(layout.item("cold")) is None  # not among the top 4
    finally:
        client.close()
        engine.dispose()


@pytest.mark.slow
def test_invalidation_across_two_processes(processes: NodeProcesses, redis_url: str, prefix: str) -> None:
    """Two real nodes, each alone on its ring, share the database and Redis."""
    env = {
        "DATABASE_URL": f"sqlite:///{processes.workdir / 'app.db'}",
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": prefix,
    }
    p, q = processes.start([free_port(), free_port()], env)
    with httpx.Client(timeout=30) as http:
        _wait_subscribed(http, redis_url, prefix, subscribers=2)
        assert http.put(f"http://{p}/items/k", json={"value": "old"}).status_code == 201
        assert http.get(f"http://{p}/items/k").json()["cache"] == "local"
        assert http.put(f"http://{q}/items/k", json={"value": "new"}).status_code == 200
        deadline = time.monotonic() + 15
        while (answer := http.get(f"http://{p}/items/k").json())["value"] != "new":
            assert time.monotonic() < deadline, "node P kept its stale copy"
            time.sleep(0.05)
        assert answer["cache"] == "redis"  # P dropped its copy and read Q's from Redis
        assert answer["served_by"] == p


def _wait_subscribed(http: httpx.Client, redis_url: str, prefix: str, subscribers: int) -> None:
    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + 30
    channel = RedisLayout(prefix).channel
    try:
        while dict(client.pubsub_numsub(channel)).get(channel.encode(), 0) < subscribers:
            assert time.monotonic() < deadline, "nodes did not subscribe to the invalidation channel"
            time.sleep(0.05)
    finally:
        client.close()
