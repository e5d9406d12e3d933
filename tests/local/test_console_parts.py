"""The console's parts without a running system: the ring's arcs and movement, the metric rates,
and the token endpoint around an injected token source."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from services.local.cluster import LocalSystem, Options
from services.local.console.collector import NodeCounters, hit_rate, parse_counters, rates
from services.local.console.load import LoadSpec, auth_headers
from services.local.console.ringview import arcs, movement, placement
from services.routing import HashRing

MEMBERS = ["127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003"]
NAMES = {m: f"node-{i}" for i, m in enumerate(MEMBERS, 1)}


def test_the_arcs_cover_the_circle_once_and_add_up_to_the_shares() -> None:
    ring = HashRing(MEMBERS, vnodes=64)
    drawn = arcs(ring, NAMES)
    assert drawn[0][0] == 0.0
    assert max(end for _, end, _ in drawn) == 1.0
    covered = sorted((start, end) for start, end, _ in drawn)
    for (_, end), (start, _) in itertools.pairwise(covered):
        assert start == pytest.approx(end, abs=1e-6)  # no gap, no overlap
    by_node: dict[str, float] = {}
    for start, end, owner in drawn:
        by_node[owner] = by_node.get(owner, 0.0) + end - start
    shares = ring.shares()
    for member, name in NAMES.items():
        assert by_node[name] == pytest.approx(shares[member], abs=1e-4)


def test_a_key_lands_on_the_ring_owner_with_the_others_as_fallbacks() -> None:
    ring = HashRing(MEMBERS, vnodes=64)
    for key in ("item-1", "item-2", "a/b", "ключ"):
        where = placement(ring, key, NAMES)
        assert where["owner"] == NAMES[ring.node_for(key)]
        assert sorted([where["owner"], *where["fallbacks"]]) == sorted(NAMES.values())
        assert 0 <= where["position"] < 1


def test_adding_a_node_moves_keys_only_to_it_near_the_optimum() -> None:
    before = HashRing(MEMBERS, vnodes=256)
    after = HashRing([*MEMBERS, "127.0.0.1:9004"], vnodes=256)
    change = movement(before, after, {**NAMES, "127.0.0.1:9004": "node-4"})
    assert change["joined"] == ["node-4"]
    assert change["left"] == []
    assert {m["to"] for m in change["moved"]} == {"node-4"}
    assert change["optimum"] == pytest.approx(0.25)
    assert change["moved_total"] == pytest.approx(after.shares()["127.0.0.1:9004"], abs=1e-5)
    assert change["moved_total"] == pytest.approx(0.25, abs=0.05)


def test_removing_a_node_moves_exactly_its_share() -> None:
    before = HashRing(MEMBERS, vnodes=256)
    after = HashRing(MEMBERS[:2], vnodes=256)
    change = movement(before, after, NAMES)
    assert change["left"] == ["node-3"]
    assert {m["from"] for m in change["moved"]} == {"node-3"}
    assert change["moved_total"] == pytest.approx(change["optimum"], abs=1e-5)


METRICS = """# HELP api_requests_total HTTP requests
# TYPE api_requests_total counter
api_requests_total{method="GET",route="/items/{key}",status="200"} 90.0
api_requests_total{method="GET",route="/metrics",status="200"} 500.0
api_requests_total{method="GET",route="/healthz",status="200"} 700.0
api_requests_total{method="PUT",route="/items/{key}",status="201"} 10.0
# HELP api_item_reads_total Item reads
# TYPE api_item_reads_total counter
api_item_reads_total{tier="local"} 60.0
api_item_reads_total{tier="redis"} 10.0
api_item_reads_total{tier="db"} 10.0
api_item_reads_total{tier="missing"} 5.0
"""


def test_rates_come_from_the_change_of_a_nodes_counters_without_scrapes_and_health_checks() -> None:
    now = parse_counters(METRICS, at=12.0)
    assert now.requests == 100.0
    before = NodeCounters(at=10.0, requests=40.0, reads={"local": 20.0, "redis": 10.0, "db": 0.0, "missing": 5.0})
    figures = rates(before, now)
    assert figures.rps == 30.0
    assert figures.reads == {"local": 20.0, "redis": 0.0, "db": 5.0, "missing": 0.0}
    assert hit_rate(figures.reads) == 0.8
    assert rates(None, now).rps is None  # one scrape says nothing about a rate
    assert rates(now, NodeCounters(at=13.0, requests=1.0, reads=now.reads)).rps is None  # the node restarted
    assert hit_rate({"local": 0.0, "redis": 0.0, "db": 0.0, "missing": 3.0}) is None


def test_a_load_outside_its_bounds_is_refused_naming_the_field() -> None:
    assert LoadSpec(rate=50).problem() is None
    assert "rate must be 1..500" in (LoadSpec(rate=0).problem() or "")
    assert "zipf_s must be 0..3" in (LoadSpec(rate=5, zipf_s=-1).problem() or "")
    assert "keys must be" in (LoadSpec(rate=5, keys=0).problem() or "")


def test_the_token_endpoint_serves_the_injected_source(tmp_path: Path) -> None:
    assert auth_headers(lambda: None) == {}
    assert auth_headers(lambda: "abc") == {"authorization": "Bearer abc"}
    tokens: list[str | None] = ["t-1", None]

    def source() -> str | None:
        return tokens.pop(0)

    def client(system: LocalSystem) -> httpx.AsyncClient:
        app = Starlette(routes=system.console.routes())
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console")

    async def check() -> None:
        async with client(LocalSystem(Options(port=1, data_dir=tmp_path), report=print, token_source=source)) as http:
            first = await http.get("/_console/token")
            assert first.status_code == 200
            assert first.json() == {"token": "t-1"}
            assert first.headers["cache-control"] == "no-store"
            assert (await http.get("/_console/token")).status_code == 204  # no auth: the page sends no header
            page = await http.get("/_console")
            assert page.status_code == 200
            assert "Local system console" in page.text
            assert (await http.get("/_console/static/console.js")).status_code == 200
        async with client(LocalSystem(Options(port=1, data_dir=tmp_path), report=print)) as http:
            assert (await http.get("/_console/token")).status_code == 204

    asyncio.run(check())


def test_redis_of_its_own_and_a_redis_url_exclude_each_other(tmp_path: Path) -> None:
    from services.local.cluster import StartupError

    with pytest.raises(StartupError, match="--redis and --redis-url exclude each other"):
        Options(redis_server=True, redis_url="redis://127.0.0.1:6379/0", data_dir=tmp_path).check()
