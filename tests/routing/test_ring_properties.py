"""Properties of the ring, checked over generated fleets, weights and change sequences."""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import Counter
from collections.abc import Mapping
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from services.routing import HashFunction, HashRing, xxh3_64
from services.routing.arcs import moves
from services.routing.hashing import RING_SIZE

KEYS = [f"key-{i}" for i in range(1500)]
names = st.text(alphabet="abcdefghij0123456789-", min_size=1, max_size=8)
weights = st.one_of(st.just(1.0), st.floats(min_value=0.1, max_value=4.0))
fleets = st.dictionaries(names, weights, min_size=1, max_size=12)


def coarse(data: bytes) -> int:
    """Only 256 distinct positions: forces collisions between nodes and crowded table slots."""
    return xxh3_64(data) & ~((1 << 56) - 1)


def positional(base: HashFunction) -> HashFunction:
    """``base``, except that a decimal key hashes to its own value: a test can probe any position."""

    def hash_(data: bytes) -> int:
        return int(data) if data.isdigit() else base(data)  # node labels ("name#i") are never digits

    return hash_


def plain_ring(weights: Mapping[str, float], vnodes: int, hash_: HashFunction) -> list[tuple[int, str]]:
    """The ring by its definition: every node's points, sorted by position, colliding ones by name."""
    return sorted(
        (hash_(f"{node}#{i}".encode()), node)
        for node, weight in weights.items()
        for i in range(max(1, round(vnodes * weight)))
    )


def plain_walk(points: list[tuple[int, str]], position: int, n: int) -> list[str]:
    """The first ``n`` distinct owners clockwise from ``position``, by bisection over the plain ring."""
    start = bisect_left(points, (position, ""))  # the first point at or after position
    walk: list[str] = []
    for step in range(len(points)):
        owner = points[(start + step) % len(points)][1]
        if owner not in walk:
            walk.append(owner)
            if len(walk) == n:
                break
    return walk


def probes(ring: HashRing, points: list[tuple[int, str]], extra: list[int]) -> list[int]:
    """Positions where an index can go wrong: at and beside points, slot edges, both ends of the circle."""
    shift = ring._ring.shift
    near = set(extra) | {0, RING_SIZE - 1}
    for position, _ in points[:: max(1, len(points) // 150)]:
        slot = position >> shift << shift
        near |= {position - 1, position, position + 1, slot - 1, slot, slot + (1 << shift) - 1, slot + (1 << shift)}
    return sorted(p for p in near if 0 <= p < RING_SIZE)


def slot_owners(ring: HashRing) -> list[str | None]:
    """The index's table in node names (ids differ between rings built in different orders)."""
    return [ring._ring.names[i] if i else None for i in ring._ring.table]


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


pool = st.sampled_from(["a", "b", "c", "d", "e", "f", "node-1", "node-10", "node-2"])
pool_weights = st.sampled_from([0.25, 0.5, 1.0, 1.5, 2.0, 3.0])
operations = st.lists(
    st.one_of(
        st.tuples(st.just("add"), pool, pool_weights),  # a new node, or a new weight for a member
        st.tuples(st.just("remove"), pool),
        st.tuples(st.just("set"), st.dictionaries(pool, pool_weights, max_size=6)),
    ),
    max_size=25,
)


def apply(ring: HashRing, op: tuple[Any, ...]) -> None:
    if op[0] == "add":
        ring.add(op[1], op[2])
    elif op[0] == "remove" and op[1] in ring:
        ring.remove(op[1])
    elif op[0] == "set":
        ring.set_nodes(op[1])


def assert_answers_as_the_plain_ring(ring: HashRing, hash_: HashFunction, extra: list[int]) -> None:
    points = plain_ring(ring.weights, ring.vnodes, hash_)
    assert ring.points() == points  # the edits (_points) equal sorting everything again
    if not points:
        return
    positions = probes(ring, points, extra)
    assert [ring.node_for(str(p)) for p in positions] == [plain_walk(points, p, 1)[0] for p in positions]
    for p in positions[:: max(1, len(positions) // 20)]:
        assert ring.nodes_for(str(p), 3) == plain_walk(points, p, 3)
    fresh = HashRing(ring.weights, vnodes=ring.vnodes, hash=hash_)
    if fresh._ring.shift == ring._ring.shift:  # the table's width may depend on history (ids above 255)
        assert slot_owners(ring) == slot_owners(fresh)  # patched slots equal a table built from scratch


@settings(max_examples=80, deadline=None)
@given(
    ops=operations,
    use_coarse=st.booleans(),
    vnodes=st.integers(1, 40),
    extra=st.lists(st.integers(0, RING_SIZE - 1), max_size=20),
)
def test_the_index_and_the_edits_answer_as_a_plain_sort_and_bisect(
    ops: list[tuple[Any, ...]], use_coarse: bool, vnodes: int, extra: list[int]
) -> None:
    """Incremental edits, patched and rebuilt tables and collisions never change an answer."""
    hash_ = positional(coarse if use_coarse else xxh3_64)
    ring = HashRing([], vnodes=vnodes, hash=hash_)
    for op in ops:
        apply(ring, op)
        assert_answers_as_the_plain_ring(ring, hash_, extra)


@settings(max_examples=12, deadline=None)
@given(ops=operations, use_coarse=st.booleans(), crowd=st.integers(240, 270))
def test_the_index_agrees_past_255_nodes_where_its_table_widens(
    ops: list[tuple[Any, ...]], use_coarse: bool, crowd: int
) -> None:
    """Ids above 255 need two-byte slots: the table changes type, in both directions, without a wrong answer."""
    hash_ = positional(coarse if use_coarse else xxh3_64)
    ring = HashRing([f"base-{i}" for i in range(crowd)], vnodes=2, hash=hash_)
    assert_answers_as_the_plain_ring(ring, hash_, [])
    for op in ops:
        apply(ring, op)  # a "set" shrinks the crowd to a few nodes: back to one-byte slots ...
        assert_answers_as_the_plain_ring(ring, hash_, [])
        if op[0] == "set":  # ... and the crowd returns
            ring.set_nodes({**op[1], **{f"base-{i}": 1.0 for i in range(crowd)}})
            assert_answers_as_the_plain_ring(ring, hash_, [])


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
