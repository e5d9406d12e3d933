"""Properties of the ring, checked over generated fleets, weights and change sequences."""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import Counter

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from services.routing import HashRing, xxh3_64
from services.routing.arcs import moves
from services.routing.hashing import RING_SIZE

KEYS = [f"key-{i}" for i in range(1500)]
names = st.text(alphabet="abcdefghij0123456789-", min_size=1, max_size=8)
weights = st.one_of(st.just(1.0), st.floats(min_value=0.1, max_value=4.0))
fleets = st.dictionaries(names, weights, min_size=1, max_size=12)


def coarse(data: bytes) -> int:
    """Only 256 distinct positions: forces collisions between nodes and crowded table slots."""
    return xxh3_64(data) & ~((1 << 56) - 1)


def reference_owner(ring: HashRing, key: str) -> str:
    points = ring.points()
    i = bisect_left([p for p, _ in points], ring._hash(key.encode()))
    return points[i % len(points)][1]


def owners(ring: HashRing) -> list[str]:
    return [ring.node_for(k) for k in KEYS]


@settings(max_examples=60, deadline=None)
@given(fleet=fleets, newcomer=names, weight=weights, vnodes=st.integers(1, 64))
def test_adding_a_node_moves_keys_only_to_it(
    fleet: dict[str, float], newcomer: str, weight: float, vnodes: int
) -> None:
    fleet.pop(newcomer, None)
    assume(fleet)
    ring = HashRing(fleet, vnodes=vnodes)
    before = owners(ring)
    old_points = ring.points()
    ring.add(newcomer, weight)
    after = owners(ring)
    assert all(new in (old, newcomer) for old, new in zip(before, after, strict=True))
    assert all(new == newcomer for (_, new) in moves(old_points, ring.points(), RING_SIZE))


@settings(max_examples=60, deadline=None)
@given(fleet=fleets, vnodes=st.integers(1, 64), data=st.data())
def test_removing_a_node_moves_only_its_keys(fleet: dict[str, float], vnodes: int, data: st.DataObject) -> None:
    leaver = data.draw(st.sampled_from(sorted(fleet)))
    ring = HashRing(fleet, vnodes=vnodes)
    before = owners(ring)
    old_points = ring.points()
    ring.remove(leaver)
    if not fleet.keys() - {leaver}:
        return
    after = owners(ring)
    assert all(old in (new, leaver) for old, new in zip(before, after, strict=True))
    assert all(old == leaver for (old, _) in moves(old_points, ring.points(), RING_SIZE))


@settings(max_examples=40, deadline=None)
@given(fleet=fleets, weight=weights, data=st.data())
def test_reweighting_a_node_moves_keys_only_to_or_from_it(
    fleet: dict[str, float], weight: float, data: st.DataObject
) -> None:
    node = data.draw(st.sampled_from(sorted(fleet)))
    ring = HashRing(fleet, vnodes=16)
    before = owners(ring)
    ring.add(node, weight)
    after = owners(ring)
    assert all(old == new or node in (old, new) for old, new in zip(before, after, strict=True))


operations = st.lists(st.tuples(st.sampled_from(["add", "remove", "set"]), names, weights), max_size=25)


@settings(max_examples=60, deadline=None)
@given(ops=operations, use_coarse=st.booleans(), vnodes=st.integers(1, 40))
def test_the_lookup_table_always_agrees_with_the_ring(
    ops: list[tuple[str, str, float]], use_coarse: bool, vnodes: int
) -> None:
    """Incremental table updates, full rebuilds and collisions never change an answer."""
    ring = HashRing([], vnodes=vnodes, hash=coarse if use_coarse else xxh3_64)
    for op, name, weight in ops:
        if op == "add":
            ring.add(name, weight)
        elif op == "remove" and name in ring:
            ring.remove(name)
        elif op == "set":
            ring.set_nodes({**dict.fromkeys(ring.nodes[::2], 1.0), name: weight})
        if len(ring):
            assert all(ring.node_for(k) == reference_owner(ring, k) for k in KEYS[:300])
            rebuilt = HashRing(ring.weights, vnodes=vnodes, hash=ring._hash)
            assert rebuilt.points() == ring.points()  # the same membership gives the same ring


@settings(max_examples=60, deadline=None)
@given(
    fleet=st.lists(names, min_size=1, max_size=10, unique=True),
    loads=st.lists(st.integers(0, 50), min_size=10, max_size=10),
    c=st.floats(min_value=1.0, max_value=3.0),
    key=st.text(max_size=10),
)
def test_bounded_loads_pick_the_first_node_under_the_cap(
    fleet: list[str], loads: list[int], c: float, key: str
) -> None:
    ring = HashRing(fleet, vnodes=8)
    current = dict(zip(fleet, loads, strict=False))
    cap = math.ceil(c * (sum(current.values()) + 1) / len(fleet))
    chosen = ring.node_for_bounded(key, current, c)
    assert current[chosen] < cap
    walk = ring.nodes_for(key, len(fleet))
    skipped = walk[: walk.index(chosen)]
    assert all(current[node] >= cap for node in skipped)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(2, 12), c=st.sampled_from([1.0, 1.1, 1.25, 2.0]))
def test_bounded_loads_cap_every_node_even_for_one_hot_key(n: int, c: float) -> None:
    ring = HashRing([f"s{i}" for i in range(n)], vnodes=16)
    loads: Counter[str] = Counter()
    for i in range(20 * n):
        key = "hot" if i % 2 else f"k{i}"
        node = ring.node_for_bounded(key, loads, c)
        assert loads[node] + 1 <= math.ceil(c * (i + 1) / n)
        loads[node] += 1
