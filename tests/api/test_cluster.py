"""Real nodes: uvicorn processes on loopback with static discovery from a peers file.

One scenario, as an operator would see it: the same owner from any node; a fourth node
joins and takes about a quarter of the keys while the other caches stay warm; a node is
killed and every key stays answerable.
"""

from __future__ import annotations

import random
import time

import httpx
import pytest

from services.local.cluster import free_port
from services.routing import HashRing
from services.routing.discovery import write_members
from tests.api.processes import NodeProcesses

pytestmark = pytest.mark.slow

KEYS = [f"user:{i}" for i in range(240)]


def wait_for_ring(http: httpx.Client, nodes: list[str], members: list[str], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        views = {node: http.get(f"http://{node}/ring").json()["members"] for node in nodes}
        if all(view == sorted(members) for view in views.values()):
            return
        assert time.monotonic() < deadline, f"rings did not converge: {views}"
        time.sleep(0.05)


def read_all(http: httpx.Client, via: str, keys: list[str] = KEYS) -> dict[str, dict[str, object]]:
    answers = {}
    for key in keys:
        response = http.get(f"http://{via}/items/{key}")
        assert response.status_code == 200, (key, response.text)
        answers[key] = response.json()
    return answers


def test_owners_agree_new_nodes_take_a_share_and_a_dead_node_loses_nothing(processes: NodeProcesses) -> None:
    peers = processes.workdir / "peers.txt"
    ports = [free_port() for _ in range(4)]
    a, b, c, d = (f"127.0.0.1:{port}" for port in ports)
    write_members(peers, [a, b, c])
    processes.start(
        ports,
        {
            "DATABASE_URL": f"sqlite:///{processes.workdir / 'app.db'}",
            "API_PEERS_FILE": str(peers),
            "API_DISCOVERY_INTERVAL_SECONDS": "0.2",
            "API_SUSPECT_SECONDS": "30",
            # Every write and read must reach its owner while all nodes live: on a busy machine a
            # forward can take longer than the default 0.5 s, and the fallback and 30 s of suspicion
            # that follow would serve the owner's keys elsewhere. A killed node refuses at once.
            "API_FORWARD_TIMEOUT_SECONDS": "30",
        },
    )
    everyone = [a, b, c, d]
    rng = random.Random(7)
    with httpx.Client(timeout=60) as http:
        wait_for_ring(http, everyone, [a, b, c])
        before = HashRing([a, b, c])
        for key in KEYS:
            written = http.put(f"http://{rng.choice(everyone)}/items/{key}", json={"value": key})
            assert (written.status_code, written.json()["served_by"]) == (201, before.node_for(key))

        # Any node, the same owner; the owner serves, from the copy the write left in its cache.
        for key in KEYS[:30]:
            views = [http.get(f"http://{node}/items/{key}").json() for node in everyone]
            seen = {(r["owner"], r["served_by"], r["cache"]) for r in views}
            assert seen == {(before.node_for(key), before.node_for(key), "local")}
        warm = read_all(http, a)
        hit_rate_before = sum(r["cache"] == "local" for r in warm.values()) / len(KEYS)
        assert hit_rate_before == 1.0

        # A fourth member: only its share moves, and every other key is still a local hit.
        write_members(peers, [a, b, c, d])
        wait_for_ring(http, everyone, [a, b, c, d])
        after = HashRing([a, b, c, d])
        moved = {key for key in KEYS if after.node_for(key) != before.node_for(key)}
        assert all(after.node_for(key) == d for key in moved)
        assert 0.15 < len(moved) / len(KEYS) < 0.35  # about 1/(n+1) = 25%
        answers = read_all(http, b)
        assert {key for key, r in answers.items() if r["cache"] != "local"} == moved
        local_hits = sum(r["cache"] == "local" for r in answers.values())
        assert local_hits == len(KEYS) - len(moved)  # counts, not rates: 175/240 != 1 - 65/240 in floats
        hit_rate_after = local_hits / len(KEYS)
        assert all(r["owner"] == after.node_for(key) == r["served_by"] for key, r in answers.items())
        print(f"hit rate before {hit_rate_before:.0%}, right after adding a node {hit_rate_after:.1%}")
        digests = {http.get(f"http://{n}/ring").json()["members_digest"] for n in everyone}
        assert len(digests) == 1

        # Kill a member without telling anyone: every key is still answered, by the next node.
        processes.kill(b)
        survivors = [a, c, d]
        for i, via in enumerate(survivors):
            for key, r in read_all(http, via, KEYS[i::3]).items():
                assert r["value"] == key
                assert r["served_by"] != b
        assert b in http.get(f"http://{a}/ring").json()["suspects"]

        # Discovery catches up; the ring is the same everywhere again and b owns nothing.
        write_members(peers, survivors)
        wait_for_ring(http, survivors, survivors)
        for key, r in read_all(http, c).items():
            assert r["owner"] == HashRing(survivors).node_for(key) == r["served_by"]
