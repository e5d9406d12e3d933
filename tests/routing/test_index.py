"""The lookup index by hand: two or three points at known slots, every table entry checked."""

from __future__ import annotations

from array import array

from services.routing import HashRing
from services.routing._index import EMPTY, HOLDS_POINT, update
from services.routing.hashing import RING_SIZE

SLOT = 1 << 56  # the smallest table has 2**8 slots of 2**56 positions each
A, B = 1, 2  # node ids


def build(points: list[int], owners: list[int]) -> tuple[array[int], array[int]]:
    return array("Q", points), array("I", owners)


def test_a_slot_without_a_point_stores_the_owner_of_the_next_point() -> None:
    points, owners = build([0x10 * SLOT, 0x80 * SLOT + 5], [A, B])
    index = update(EMPTY.table, EMPTY.shift, points, owners, 3, list(points))
    assert index.shift == 56
    expected = [A] * 0x10 + [HOLDS_POINT] + [B] * (0x80 - 0x11) + [HOLDS_POINT] + [A] * (0xFF - 0x80)
    assert list(index.table) == expected  # past the last point the owner wraps round to the first
    assert index.table.typecode == "B"  # ids below 2**8 take one byte per slot
    assert list(index.buckets) == [0, 2]  # one bucket: every point is searched


def test_a_patched_table_equals_one_built_from_scratch() -> None:
    points, owners = build([0x10 * SLOT, 0x80 * SLOT], [A, B])
    before = update(EMPTY.table, EMPTY.shift, points, owners, 3, list(points))
    # B's point moves from 0x80 to 0x40: only the slots between A's point and the wrap change.
    moved, moved_owners = build([0x10 * SLOT, 0x40 * SLOT], [A, B])
    patched = update(before.table, before.shift, moved, moved_owners, 3, [0x80 * SLOT, 0x40 * SLOT])
    assert list(patched.table) == [A] * 0x10 + [HOLDS_POINT] + [B] * (0x40 - 0x11) + [HOLDS_POINT] + [A] * 0xBF
    assert patched == update(EMPTY.table, EMPTY.shift, moved, moved_owners, 3, list(moved))


def test_buckets_bound_the_search_to_the_points_of_one_bucket() -> None:
    # 100 points: two buckets (of about 50 points) split the circle in halves.
    points = array("Q", sorted({(i * 0x9E3779B97F4A7C15) % RING_SIZE for i in range(100)}))
    owners = array("I", [1] * len(points))
    index = update(EMPTY.table, EMPTY.shift, points, owners, 2, list(points))
    assert index.bucket_shift == 63
    half = sum(1 for p in points if p < 1 << 63)
    assert list(index.buckets) == [0, half, len(points)]


def test_an_empty_ring_has_the_empty_index() -> None:
    index = update(EMPTY.table, EMPTY.shift, array("Q"), array("I"), 1, [5])
    assert index is EMPTY
    assert list(EMPTY.table) == [HOLDS_POINT]  # every lookup takes the search, which finds no point


def test_keys_in_empty_slots_and_on_points_find_their_owners_by_hand() -> None:
    placed = {b"a#0": 0x10 * SLOT, b"b#0": 0x80 * SLOT}
    ring = HashRing(["a", "b"], vnodes=1, hash=lambda data: placed[data] if data in placed else int(data))
    at = {
        0: "a",
        0x10 * SLOT - 1: "a",  # an empty slot: the table answers
        0x10 * SLOT: "a",  # a's own slot: the search finds a's point itself ...
        0x10 * SLOT + 1: "b",  # ... or, just after it, the next point
        0x11 * SLOT: "b",
        0x80 * SLOT: "b",
        0x80 * SLOT + 1: "a",  # past the last point: round to the first
        RING_SIZE - 1: "a",
    }
    assert {h: ring.node_for(str(h)) for h in at} == at
    table = ring._ring.table
    assert (table[0x0F], table[0x10], table[0x11], table[0x80], table[0x81]) == (
        ring._ring.names.index("a"),
        HOLDS_POINT,
        ring._ring.names.index("b"),
        HOLDS_POINT,
        ring._ring.names.index("a"),
    )


def test_the_table_takes_two_bytes_per_slot_past_255_nodes_and_one_again_below() -> None:
    names = [f"n{i}" for i in range(254)]
    ring = HashRing(names, vnodes=4)
    keys = [f"key-{i}" for i in range(3000)]
    widths = [ring._ring.table.typecode]
    for change, node in ((ring.add, "x1"), (ring.add, "x2"), (ring.remove, "x2"), (ring.remove, "x1")):
        change(node)
        widths.append(ring._ring.table.typecode)
        fresh = HashRing(ring.weights, vnodes=4)
        assert [ring.node_for(k) for k in keys] == [fresh.node_for(k) for k in keys]
    assert widths == ["B", "B", "H", "B", "B"]  # 255 nodes use ids 1..255; the 256th needs two bytes
