"""The ring's lookup index: most keys find their owner with one array read, no search.

The circle is cut into ``2**bits`` equal slots. A slot that holds no point has a single
owner (that of the first point after the slot), and the table stores that owner's id. A
slot that holds a point stores ``HOLDS_POINT`` (0, never an id), and keys there take the
search, bounded by a second, coarser table to one bucket of the circle (about 50 points).

The table takes 8 to 16 bytes per point (its slot count is a power of two). While every
id fits in a byte (up to 255 nodes) that is eight one-byte slots per point, and about one
key in ten takes the search; beyond, four two-byte slots, and up to one key in five.

The index is derived from the ring's ``points`` and ``owners`` (``services.routing.ring``)
and answers exactly as a bisect over them. A change re-derives only the slots between the
surviving neighbours of the changed points; a large change rebuilds the table.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from itertools import repeat
from operator import mul, sub
from typing import Final, NamedTuple

from services.routing.hashing import RING_BITS

HOLDS_POINT: Final = 0
_SLOTS_PER_POINT: Final = {"B": 8, "H": 4, "I": 4}  # by the table's typecode
_MIN_TABLE_BITS: Final = 8
_MAX_TABLE_BITS: Final = 22
_BUCKET_BITS: Final = 6  # a bucket holds 2**5 to 2**6 points on average


class Index(NamedTuple):
    """The lookup index over one version of the ring; the ring's snapshot carries its fields."""

    table: array[int]  # table[h >> shift]: the owner id of every hash in that slot, or HOLDS_POINT
    shift: int
    buckets: array[int]  # buckets[b]: the first point at or after bucket b (b = h >> bucket_shift)
    bucket_shift: int


EMPTY: Final = Index(array("H", [HOLDS_POINT]), RING_BITS, array("I", [0, 0]), RING_BITS)


def update(
    table: array[int], shift: int, points: array[int], owners: array[int], ids: int, changed: list[int]
) -> Index:
    """The index of the ring ``points``/``owners`` (ids below ``ids``) after ``changed`` points came or went.

    ``table`` and ``shift`` are the index before the change. Ids stay the same while a node
    stays, so only the slots where a changed point can have changed the owner are re-derived.
    """
    if not points:
        return EMPTY
    typecode = "B" if ids <= 1 << 8 else "H" if ids <= 1 << 16 else "I"  # ids below 2**8 fit in a byte
    wanted = (len(points) * _SLOTS_PER_POINT[typecode] - 1).bit_length()
    new_shift = RING_BITS - max(_MIN_TABLE_BITS, min(_MAX_TABLE_BITS, wanted))
    size = array(typecode).itemsize
    raw = array(typecode, range(ids)).tobytes()
    units = [raw[i : i + size] for i in range(0, len(raw), size)]  # units[id]: the id as table bytes
    if new_shift != shift or typecode != table.typecode or len(changed) > len(points) // 4:
        table = _slots(typecode, units, points, owners, new_shift, 0, 1 << (RING_BITS - new_shift))
    else:
        table = array(typecode, table)
        for lo, hi in _dirty_slots(points, new_shift, changed):
            table[lo:hi] = _slots(typecode, units, points, owners, new_shift, lo, hi)
    bucket_shift = RING_BITS - max(0, (len(points) - 1).bit_length() - _BUCKET_BITS)
    return Index(table, new_shift, _buckets(points, bucket_shift), bucket_shift)


def _slots(
    typecode: str, units: list[bytes], points: array[int], owners: array[int], shift: int, lo: int, hi: int
) -> array[int]:
    """The table entries of slots ``lo`` to ``hi - 1``: each slot's owner id, or HOLDS_POINT."""
    first = bisect_left(points, lo << shift)
    end = bisect_left(points, hi << shift, first)
    slots = [p >> shift for p in points[first:end]]
    # A slot belongs to the first point at or after it: runs of each point's owner up to its
    # slot, then the owner of the next point (round the circle) up to hi.
    ids = [*owners[first:end], owners[end % len(owners)]]
    lengths = [*map(sub, slots, [lo - 1, *slots[:-1]]), hi - 1 - (slots[-1] if slots else lo - 1)]
    fill = array(typecode)
    fill.frombytes(b"".join(map(mul, map(units.__getitem__, ids), lengths)))
    for slot in slots:
        fill[slot - lo] = HOLDS_POINT
    return fill


def _buckets(points: array[int], bucket_shift: int) -> array[int]:
    """``buckets[b]``: the first point at or after bucket ``b``; the last entry is ``len(points)``."""
    count = 1 << (RING_BITS - bucket_shift)
    starts = range(0, count << bucket_shift, 1 << bucket_shift)
    buckets = array("I", map(bisect_left, repeat(points, count), starts))
    buckets.append(len(points))
    return buckets


def _dirty_slots(points: array[int], shift: int, changed: list[int]) -> list[tuple[int, int]]:
    """Slot ranges whose owner may differ after points at ``changed`` were added or removed.

    A key's owner can only change if a changed point lies between the key and its owner,
    so the slots between the nearest surviving points on either side cover every change.
    Where a change has no neighbour on one side, the wrap-around owner may change too.
    """
    last = len(points) - 1
    slots = 1 << (RING_BITS - shift)
    ranges = []
    for value in changed:
        before = bisect_left(points, value) - 1
        after = bisect_right(points, value)
        lo = points[before] >> shift if before >= 0 else 0
        hi = (points[after] >> shift) + 1 if after <= last else slots
        ranges.append((lo, hi))
        if before < 0 or after > last:
            ranges += [(0, (points[0] >> shift) + 1), (points[last] >> shift, slots)]
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged
