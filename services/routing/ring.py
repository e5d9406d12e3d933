"""Consistent hash ring with weighted virtual nodes, bounded loads and a lookup table.

Each node owns ``round(vnodes * weight)`` points on a 64-bit circle, placed at
``hash(f"{node}#{i}")``. A key belongs to the first point clockwise from ``hash(key)``.
A node's points depend only on its own name and weight, so adding or removing a node
moves keys only to or from that node: never between surviving nodes.

Points of different nodes that collide are ordered by node name, so the owner of a
contested point is the same whatever order nodes were added in.

Lookups go through a table over ``2**bits`` equal slots of the circle. A slot that
contains no point has a single owner, whose small integer id the table stores; only keys
that fall in a slot holding a point take the bisect path. The table is an index over the
ring, never a second opinion: its answers are exactly the ring's.

Thread-safety: every change builds a new immutable snapshot under a lock and publishes
it with one assignment, so readers never lock and never see a half-built ring.
"""

from __future__ import annotations

import math
import threading
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import chain, repeat
from operator import sub
from types import MappingProxyType
from typing import Final

from services.routing import arcs
from services.routing.hashing import RING_BITS, RING_SIZE, HashFunction, to_bytes, xxh3_64

DEFAULT_VNODES: Final = 512
"""Points per unit of weight. 512 keeps peak-to-mean load near 1.07 at ten nodes."""

_SLOTS_PER_POINT: Final = 4
_MIN_TABLE_BITS: Final = 8
_MAX_TABLE_BITS: Final = 22
_COARSE_BITS: Final = 8  # a coarse bucket spans 2**8 table slots
_HOLDS_POINT: Final = 0  # table entry for a slot that holds a point; node ids start at 1

Nodes = Iterable[str] | Mapping[str, float]


class EmptyRingError(LookupError):
    """Raised by lookups on a ring that has no nodes."""


@dataclass(frozen=True, slots=True)
class _Snapshot:
    points: array[int]  # sorted ring positions
    ids: array[int]  # ids[i]: id of the node that owns points[i]
    names: tuple[str | None, ...]  # names[id]; index 0 and freed ids are None
    table: array[int]  # node id per slot, or _HOLDS_POINT
    shift: int  # slot = hash >> shift
    coarse: array[int]  # coarse[c]: index of the first point in coarse bucket c
    weights: Mapping[str, float]
    version: int


_EMPTY = _Snapshot(
    array("Q"), array("I"), (None,), array("H", [_HOLDS_POINT]), RING_BITS, array("I", [0, 0]), MappingProxyType({}), 0
)


def _table_bits(point_count: int) -> int:
    wanted = (point_count * _SLOTS_PER_POINT - 1).bit_length()
    return max(_MIN_TABLE_BITS, min(_MAX_TABLE_BITS, wanted))


def _check_weight(node: str, weight: object) -> float:
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not (math.isfinite(weight) and weight > 0):
        raise ValueError(f"weight of node {node!r} must be a positive finite number, got {weight!r}")
    return float(weight)


def _check_name(node: object) -> str:
    if not isinstance(node, str) or not node:
        raise ValueError(f"node names must be non-empty strings, got {node!r}")
    return node


def _normalise(nodes: Nodes) -> dict[str, float]:
    if isinstance(nodes, str | bytes):
        raise TypeError("nodes must be an iterable of names or a mapping of name to weight, not a single string")
    if isinstance(nodes, Mapping):
        return {_check_name(n): _check_weight(n, w) for n, w in nodes.items()}
    return {_check_name(n): 1.0 for n in nodes}


class HashRing:
    """A consistent hash ring mapping keys (``str`` or ``bytes``) to node names.

    ``nodes`` is an iterable of names (weight 1 each) or a mapping of name to a positive
    weight. ``vnodes`` is the number of points per unit of weight. ``hash`` maps bytes to
    an integer in ``[0, 2**64)``; the default is XXH3-64 (seed 0), the same on every
    machine. Readers may call any method while another thread changes the ring.
    """

    def __init__(self, nodes: Nodes = (), *, vnodes: int = DEFAULT_VNODES, hash: HashFunction = xxh3_64) -> None:  # noqa: A002 - public name
        if isinstance(vnodes, bool) or not isinstance(vnodes, int) or vnodes < 1:
            raise ValueError(f"vnodes must be a positive integer, got {vnodes!r}")
        self._vnodes = vnodes
        self._hash = hash
        self._lock = threading.Lock()
        self._snap = _EMPTY
        self._apply(_normalise(nodes), set())

    # -- lookups -------------------------------------------------------------------

    def node_for(self, key: str | bytes) -> str:
        """Return the node that owns ``key``. Raises :class:`EmptyRingError` if the ring is empty."""
        snap = self._snap
        try:
            h = self._hash(key.encode() if key.__class__ is str else key)  # type: ignore[arg-type]
        except TypeError:
            to_bytes(key)  # names the wrong key type
            raise
        node = snap.table[h >> snap.shift]
        if node:
            return snap.names[node]  # type: ignore[return-value]
        points = snap.points
        if not points:
            raise EmptyRingError("the hash ring has no nodes")
        c = h >> (snap.shift + _COARSE_BITS)
        i = bisect_left(points, h, snap.coarse[c], snap.coarse[c + 1])
        return snap.names[snap.ids[i if i < len(points) else 0]]  # type: ignore[return-value]

    def nodes_for(self, key: str | bytes, n: int) -> list[str]:
        """Return the first ``n`` distinct nodes clockwise from ``key`` (fewer if the ring is smaller)."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        return list(self._walk(self._snap, key, n))

    def node_for_bounded(self, key: str | bytes, loads: Mapping[str, int], c: float = 1.25) -> str:
        """Return the first node clockwise from ``key`` whose load is below ``ceil(c * average)``.

        This is consistent hashing with bounded loads (Mirrokni, Thorup and Zadimoghaddam,
        2018). ``loads`` gives each node's current load (missing nodes count as 0);
        the average counts the request being placed, so some node is always below the
        cap when ``c >= 1``. No node ever receives more than ``ceil(c * average)``.
        """
        if isinstance(c, bool) or not isinstance(c, int | float) or not math.isfinite(c) or c < 1:
            raise ValueError(f"bounded-load factor c must be a finite number >= 1, got {c!r}")
        snap = self._snap
        if not snap.weights:
            raise EmptyRingError("the hash ring has no nodes")
        total = sum(loads.get(node, 0) for node in snap.weights)
        cap = math.ceil(c * (total + 1) / len(snap.weights))
        for node in self._walk(snap, key, len(snap.weights)):
            if loads.get(node, 0) < cap:
                return node
        raise AssertionError("unreachable: the average guarantees a node below the cap")

    def _walk(self, snap: _Snapshot, key: str | bytes, limit: int) -> Iterator[str]:
        ids, names = snap.ids, snap.names
        if not ids:
            raise EmptyRingError("the hash ring has no nodes")
        count = len(ids)
        start = bisect_left(snap.points, self._hash(to_bytes(key)))
        seen: set[int] = set()
        for step in range(count):
            node = ids[(start + step) % count]
            if node not in seen:
                seen.add(node)
                yield names[node]  # type: ignore[misc]
                if len(seen) == limit:
                    return

    # -- membership ----------------------------------------------------------------

    def add(self, node: str, weight: float = 1) -> None:
        """Add ``node`` with ``weight``; re-adding a present node changes its weight."""
        self._apply({_check_name(node): _check_weight(node, weight)}, set())

    def remove(self, node: str) -> None:
        """Remove ``node``. Raises ``KeyError`` naming it if it is not in the ring."""
        if node not in self._snap.weights:
            raise KeyError(node)
        self._apply({}, {node})

    def set_nodes(self, nodes: Nodes) -> None:
        """Make the membership exactly ``nodes``, as one change (used by peer discovery)."""
        wanted = _normalise(nodes)
        with self._lock:
            current = self._snap.weights
            self._apply_locked(wanted, {n for n in current if n not in wanted})

    @property
    def nodes(self) -> tuple[str, ...]:
        """The member names, sorted."""
        return tuple(sorted(self._snap.weights))

    @property
    def weights(self) -> Mapping[str, float]:
        """A read-only mapping of member name to weight."""
        return self._snap.weights

    @property
    def vnodes(self) -> int:
        """Points per unit of weight."""
        return self._vnodes

    @property
    def version(self) -> int:
        """A counter that increases with every change of membership or weight."""
        return self._snap.version

    def __len__(self) -> int:
        return len(self._snap.weights)

    def __contains__(self, node: object) -> bool:
        return node in self._snap.weights

    def __repr__(self) -> str:
        return f"HashRing(nodes={len(self)}, points={self.point_count}, vnodes={self._vnodes})"

    # -- inspection ----------------------------------------------------------------

    @property
    def point_count(self) -> int:
        """The number of points on the ring."""
        return len(self._snap.points)

    def points(self) -> list[tuple[int, str]]:
        """Every ``(position, owner)`` on the ring, in clockwise order."""
        snap = self._snap
        return list(zip(snap.points, map(snap.names.__getitem__, snap.ids), strict=True))  # type: ignore[arg-type]

    def shares(self) -> dict[str, float]:
        """Each node's exact share of the hash space, from arc lengths (sums to 1)."""
        points = self.points()
        return arcs.shares(points, RING_SIZE) if points else {}

    # -- building ------------------------------------------------------------------

    def _node_points(self, node: str, weight: float) -> list[int]:
        count = max(1, round(self._vnodes * weight))
        prefix = f"{node}#".encode()
        points = sorted(map(self._hash, map(prefix.__add__, _decimal_bytes(count))))
        if not isinstance(points[0], int) or points[0] < 0 or points[-1] >= RING_SIZE:
            raise ValueError(f"hash must return integers in [0, 2**64), got {points[0]!r}..{points[-1]!r}")
        return points

    def _apply(self, add: dict[str, float], remove: set[str]) -> None:
        with self._lock:
            self._apply_locked(add, remove)

    def _apply_locked(self, add: dict[str, float], remove: set[str]) -> None:
        old = self._snap
        add = {n: w for n, w in add.items() if old.weights.get(n) != w}
        remove = remove | {n for n in add if n in old.weights}  # a re-weighted node is replaced
        if not add and not remove:
            return
        removed = {
            i: self._node_points(n, old.weights[n]) for i, n in enumerate(old.names) if n is not None and n in remove
        }
        names = [None if i in removed else name for i, name in enumerate(old.names)]
        free = [i for i in range(len(names) - 1, 0, -1) if names[i] is None]  # lowest id last
        added: dict[int, list[int]] = {}
        for node, weight in add.items():  # ids are stable while a node stays, so the table can be patched
            i = free.pop() if free else len(names)
            names[i : i + 1] = [node]  # a freed id, or a new one at the end
            added[i] = self._node_points(node, weight)
        points, ids = _merge(*_delete(old.points, old.ids, removed), added, names)
        changed = [p for group in (removed, added) for pts in group.values() for p in pts]

        typecode = "H" if len(names) <= 0xFFFF else "I"
        shift = RING_BITS - _table_bits(len(points))
        if not points:
            table, shift = array(typecode, [_HOLDS_POINT]), RING_BITS
        elif shift != old.shift or typecode != old.table.typecode or len(changed) > len(points) // 4:
            table = array(typecode, bytes(array(typecode).itemsize << (RING_BITS - shift)))
            _refill(table, points, ids, shift, 0, len(table))
        else:
            table = array(typecode, old.table)
            for lo, hi in _dirty_slots(points, shift, changed):
                _refill(table, points, ids, shift, lo, hi)

        weights = {n: w for n, w in old.weights.items() if n not in remove} | add
        while len(names) > 1 and names[-1] is None:
            names.pop()
        self._snap = _Snapshot(
            points,
            ids,
            tuple(names),
            table,
            shift,
            _coarse_index(points, shift),
            MappingProxyType(weights),
            old.version + 1,
        )


_DIGITS: list[bytes] = []


def _decimal_bytes(count: int) -> list[bytes]:
    """``[b"0", b"1", ..., str(count - 1).encode()]``, cached: vnode suffixes."""
    if len(_DIGITS) < count:
        _DIGITS.extend(str(i).encode() for i in range(len(_DIGITS), count))
    return _DIGITS[:count]


def _delete(points: array[int], ids: array[int], removed: dict[int, list[int]]) -> tuple[array[int], array[int]]:
    """Remove each node's points, given the node's points, without scanning the ring."""
    if not removed:
        return points, ids
    doomed: set[int] = set()
    for node, node_points in removed.items():
        for point in node_points:
            lo = bisect_left(points, point)
            hi = bisect_right(points, point, lo)
            doomed.update(i for i in range(lo, hi) if ids[i] == node)
    kept_points, kept_ids = array("Q"), array("I")
    start = 0
    for i in sorted(doomed):
        kept_points.extend(points[start:i])
        kept_ids.extend(ids[start:i])
        start = i + 1
    kept_points.extend(points[start:])
    kept_ids.extend(ids[start:])
    return kept_points, kept_ids


def _merge(
    points: array[int], ids: array[int], added: dict[int, list[int]], names: list[str | None]
) -> tuple[array[int], array[int]]:
    """Insert each added node's points in ring order; equal points are ordered by node name."""
    count = sum(map(len, added.values()))
    if count == 0:
        return points, ids
    if count * 8 < len(points):  # a few points: splice them in
        new = sorted((p, names[i], i) for i, pts in added.items() for p in pts)
        merged_points, merged_ids = array("Q"), array("I")
        start = 0
        for point, name, node in new:
            i = bisect_left(points, point, start)
            while i < len(points) and points[i] == point and names[ids[i]] < name:  # type: ignore[operator]
                i += 1
            merged_points.extend(points[start:i])
            merged_ids.extend(ids[start:i])
            merged_points.append(point)
            merged_ids.append(node)
            start = i
        merged_points.extend(points[start:])
        merged_ids.extend(ids[start:])
        return merged_points, merged_ids
    # Many points: sort everything at once, each point packed with its node's name rank into
    # one integer, which sorts several times faster than (point, name) tuples.
    by_name = sorted((name, i) for i, name in enumerate(names) if name is not None)
    rank = {i: r for r, (_, i) in enumerate(by_name)}
    bits = max(1, (len(by_name) - 1).bit_length())
    packed = [p << bits | rank[i] for p, i in zip(points, ids, strict=True)]
    for node, node_points in added.items():
        r = rank[node]
        packed.extend(p << bits | r for p in node_points)
    packed.sort()
    mask = (1 << bits) - 1
    id_by_rank = [i for _, i in by_name]
    return array("Q", [k >> bits for k in packed]), array("I", [id_by_rank[k & mask] for k in packed])


def _refill(table: array[int], points: array[int], ids: array[int], shift: int, lo: int, hi: int) -> None:
    """Recompute ``table[lo:hi]`` from the ring: each slot's owner id, or _HOLDS_POINT."""
    first = bisect_left(points, lo << shift)
    end = bisect_left(points, hi << shift, first)
    slots = [p >> shift for p in points[first:end]]
    # A slot belongs to the first point at or after it; slots past the last point wrap round.
    gaps = map(sub, slots, [lo - 1, *slots[:-1]])
    fill = array(table.typecode, chain.from_iterable(map(repeat, ids[first:end], gaps)))
    fill.extend(repeat(ids[end % len(ids)], hi - lo - len(fill)))
    for slot in slots:
        fill[slot - lo] = _HOLDS_POINT
    table[lo:hi] = fill


def _coarse_index(points: array[int], shift: int) -> array[int]:
    """``index[c]`` = first point at or after coarse bucket ``c``: bounds the slow-path bisect."""
    coarse_shift = shift + _COARSE_BITS
    buckets = 1 << max(0, RING_BITS - coarse_shift)
    starts = range(0, buckets << coarse_shift, 1 << coarse_shift)
    index = array("I", map(bisect_left, repeat(points, buckets), starts))
    index.append(len(points))
    return index


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
