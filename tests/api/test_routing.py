"""Routing between nodes, in-process: owners, one hop, fallbacks, suspects, bounded loads,
and what a membership change does to the caches."""

from __future__ import annotations

import math
from collections import Counter

import anyio
import pytest

from services.api.forwarding import FORWARDED_HEADER
from services.routing import HashRing
from tests.api.conftest import Cluster

pytestmark = pytest.mark.anyio

A, B, C, D = (f"10.0.0.{i}:8080" for i in range(1, 5))
KEYS = [f"key-{i}" for i in range(60)]


async def start(cluster: Cluster, names: list[str], **overrides: object) -> HashRing:
    cluster.set_members(names)
    await cluster.start(names, **overrides)
    return HashRing(names)


async def concurrent_reads(cluster: Cluster, via: str, key: str, count: int) -> Counter[str]:
    """Read ``key`` through ``via`` ``count`` times at once; count the nodes that served it."""
    served: Counter[str] = Counter()

    async def read() -> None:
        served[(await cluster.clients[via].get(f"/items/{key}")).json()["served_by"]] += 1

    async with anyio.create_task_group() as group:
        for _ in range(count):
            group.start_soon(read)
    return served


async def test_every_node_reports_the_same_owner_and_the_owner_serves(cluster: Cluster) -> None:
    ring = await start(cluster, [A, B, C])
    for key in KEYS[:20]:
        assert (await cluster.clients[A].put(f"/items/{key}", json={"value": key})).json()[
            "served_by"
        ] == ring.node_for(key)
    for key in KEYS[:20]:
        answers = [(await client.get(f"/items/{key}")).json() for client in cluster.clients.values()]
        assert {(a["owner"], a["served_by"], a["value"]) for a in answers} == {(ring.node_for(key),) * 2 + (key,)}
        assert all(answer["cache"] == "local" for answer in answers)  # the write filled the owner's cache


async def test_a_write_through_any_node_lands_in_the_owners_cache_only(cluster: Cluster) -> None:
    ring = await start(cluster, [A, B, C])
    key = next(k for k in KEYS if ring.node_for(k) == C)
    written = await cluster.clients[A].put(f"/items/{key}", json={"value": 1})
    assert written.status_code == 201
    assert written.json()["served_by"] == C
    assert key in cluster.nodes[C].items.cache
    assert key not in cluster.nodes[A].items.cache


async def test_a_forwarded_request_is_served_where_it_lands(cluster: Cluster) -> None:
    ring = await start(cluster, [A, B, C])
    key = next(k for k in KEYS if ring.node_for(k) == B)
    await cluster.clients[B].put(f"/items/{key}", json={"value": 1})
    cluster.network.calls.clear()
    answer = await cluster.clients[A].get(f"/items/{key}", headers={FORWARDED_HEADER: C})
    assert answer.json()["served_by"] == A  # A is not the owner, but never makes a second hop
    assert answer.json()["owner"] == B
    assert cluster.network.calls == []
    assert key not in cluster.nodes[A].items.cache  # and keeps no copy of a key it does not own


async def test_when_the_owner_is_down_the_next_node_answers_and_the_owner_becomes_suspect(cluster: Cluster) -> None:
    ring = await start(cluster, [A, B, C, D], api_suspect_seconds=30.0)
    keys = [k for k in KEYS if ring.node_for(k) == B and ring.nodes_for(k, 2)[1] != A][:3]
    for key in keys:
        await cluster.clients[C].put(f"/items/{key}", json={"value": key})
    cluster.network.down.add(B)
    cluster.network.calls.clear()
    first = await cluster.clients[A].get(f"/items/{keys[0]}")
    assert first.status_code == 200
    assert first.json()["value"] == keys[0]
    assert first.json()["served_by"] == ring.nodes_for(keys[0], 2)[1]
    assert [call[0] for call in cluster.network.calls] == [B, ring.nodes_for(keys[0], 2)[1]]
    assert B in (await cluster.clients[A].get("/ring")).json()["suspects"]
    cluster.network.calls.clear()
    for key in keys[1:]:  # a suspect is skipped without being tried
        answer = await cluster.clients[A].get(f"/items/{key}")
        assert answer.json()["value"] == key
    assert B not in [call[0] for call in cluster.network.calls]
    metrics = (await cluster.clients[A].get("/metrics")).text
    assert 'api_forwards_total{outcome="error"} 1.0' in metrics
    assert "api_forward_fallbacks_total 1.0" in metrics


async def test_a_suspect_is_tried_again_after_its_time(cluster: Cluster) -> None:
    ring = await start(cluster, [A, B], api_suspect_seconds=0.2)
    key = next(k for k in KEYS if ring.node_for(k) == B)
    await cluster.clients[B].put(f"/items/{key}", json={"value": 1})
    cluster.network.down.add(B)
    assert (await cluster.clients[A].get(f"/items/{key}")).json()["served_by"] == A
    cluster.network.down.discard(B)
    await anyio.sleep(0.25)
    assert (await cluster.clients[A].get(f"/items/{key}")).json()["served_by"] == B


async def test_a_slow_owner_times_out_and_the_client_still_gets_the_answer(cluster: Cluster) -> None:
    ring = await start(cluster, [A, B, C], api_forward_timeout_seconds=0.1)
    key = next(k for k in KEYS if ring.node_for(k) == B and ring.nodes_for(k, 2)[1] == C)
    await cluster.clients[C].put(f"/items/{key}", json={"value": "v"})
    cluster.network.delay[B] = math.inf  # the owner never answers: only the forward's timeout ends the wait
    with anyio.fail_after(30):
        answer = await cluster.clients[A].get(f"/items/{key}")
    assert answer.status_code == 200
    assert (answer.json()["value"], answer.json()["served_by"]) == ("v", C)
    assert 'api_forwards_total{outcome="timeout"} 1.0' in (await cluster.clients[A].get("/metrics")).text


async def test_writes_fall_back_too(cluster: Cluster) -> None:
    ring = await start(cluster, [A, B, C])
    key = next(k for k in KEYS if ring.node_for(k) == B)
    cluster.network.down.add(B)
    written = await cluster.clients[A].put(f"/items/{key}", json={"value": 5})
    assert written.status_code == 201
    assert written.json()["served_by"] != B
    cluster.network.down.discard(B)
    assert (await cluster.clients[B].get(f"/items/{key}")).json()["value"] == 5


async def test_when_every_peer_is_down_the_receiving_node_answers(cluster: Cluster) -> None:
    ring = await start(cluster, [A, B, C])
    key = next(k for k in KEYS if ring.node_for(k) == B)
    await cluster.clients[B].put(f"/items/{key}", json={"value": 1})
    cluster.network.down.update({B, C})
    answer = await cluster.clients[A].get(f"/items/{key}")
    assert (answer.status_code, answer.json()["served_by"]) == (200, A)


async def test_bounded_loads_spill_a_hot_key_to_the_next_node(cluster: Cluster) -> None:
    ring = await start(cluster, [A, B, C, D], api_bounded_load_factor=1.25)
    key = next(k for k in KEYS if ring.node_for(k) == B and A not in ring.nodes_for(k, 2))
    await cluster.clients[B].put(f"/items/{key}", json={"value": 1})
    cluster.network.delay[B] = 0.2  # the owner is slow, so forwards to it pile up
    served = await concurrent_reads(cluster, A, key, 12)
    assert sum(served.values()) == 12
    assert served[B] < 12  # without bounded loads the owner would take all 12
    assert served[ring.nodes_for(key, 2)[1]] > 0  # the overflow went clockwise


async def test_without_a_factor_the_owner_takes_every_read(cluster: Cluster) -> None:
    ring = await start(cluster, [A, B, C, D])
    key = next(k for k in KEYS if ring.node_for(k) == B)
    await cluster.clients[B].put(f"/items/{key}", json={"value": 1})
    cluster.network.delay[B] = 0.05
    assert await concurrent_reads(cluster, A, key, 12) == {B: 12}


async def test_a_new_member_takes_its_keys_and_old_owners_drop_their_copies(cluster: Cluster) -> None:
    # Every write must reach its owner, so that each old owner holds all of its keys. With a
    # 0.5 s forward timeout, one in-process write that a busy machine delayed longer fell back to
    # the next node and left the owner suspect for API_SUSPECT_SECONDS, so the owner's later
    # keys were written elsewhere too and it held none of them (a cold cache, not a stale one).
    # The cluster's forwards now wait 30 s (tests/api/conftest.py); fallbacks are tested above.
    before = await start(cluster, [A, B, C])
    for key in KEYS:
        written = await cluster.clients[A].put(f"/items/{key}", json={"value": key})
        assert written.json()["served_by"] == before.node_for(key)
    await cluster.start([D])
    cluster.set_members([A, B, C, D])
    await cluster.refresh()
    after = HashRing([A, B, C, D])
    moved = {key for key in KEYS if after.node_for(key) != before.node_for(key)}
    assert moved
    assert all(after.node_for(key) == D for key in moved)  # keys move only to the newcomer
    for name in (A, B, C):
        cached = set(cluster.nodes[name].items.cache)
        assert cached == {key for key in KEYS if after.node_for(key) == name}
    tiers = {key: (await cluster.clients[A].get(f"/items/{key}")).json()["cache"] for key in KEYS}
    assert {key for key, tier in tiers.items() if tier != "local"} == moved
    ring = (await cluster.clients[B].get("/ring")).json()
    assert ring["members"] == [A, B, C, D]
    assert len({(await client.get("/ring")).json()["members_digest"] for client in cluster.clients.values()}) == 1
