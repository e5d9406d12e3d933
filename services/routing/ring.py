"""Consistent hashing: points on a 64-bit circle, each owned by a node.

A node of weight ``w`` owns ``round(vnodes * w)`` points, at ``hash(f"{node}#{i}")``; a key
belongs to the first point clockwise from ``hash(key)``. A node's points depend only on its
own name and weight, so a change moves keys only to or from the changed nodes. Colliding
points are ordered by node name, so the ring does not depend on the order of changes.

Beside this module, ``_index`` finds most keys' owner without a search and ``_points``
edits the sorted points without re-sorting; tests/routing/test_ring_properties.py
proves that they answer exactly as a plain sort and bisect.
"""

from __future__ import annotations

import math
import threading
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from services.routing import _checks, _index, _points, arcs
from services.routing._checks import Nodes
from services.routing.hashing import RING_SIZE, HashFunction, to_bytes, xxh3_64

DEFAULT_VNODES: Final = 512
"""Points per unit of weight. 512 keeps peak-to-mean load near 1.07 at ten nodes."""


class EmptyRingError(LookupError):
    """Raised by lookups on a ring that has no nodes."""


@dataclass(frozen=True, slots=True)
class _Ring:
    points: array[int]  # positions on the circle, sorted clockwise
    owners: array[int]  # owners[i]: the id of the node at points[i] (4 bytes, not a reference)
    names: tuple[str | None, ...]  # names[id]; id 0 and the ids of departed nodes are None
    weights: Mapping[str, float]
    version: int
    table: array[int]  # the lookup index over the points: see _index.Index
    shift: int
    buckets: array[int]
    bucket_shift: int


_EMPTY = _Ring(array("Q"), array("I"), (None,), MappingProxyType({}), 0, *_index.EMPTY)


class HashRing:
    """A consistent hash ring mapping keys (``str`` or ``bytes``) to node names.

    ``nodes`` is an iterable of names (weight 1 each) or a mapping of name to a positive
    weight. ``vnodes`` is the number of points per unit of weight. ``hash`` maps bytes to
    an integer in ``[0, 2**64)``; the default is XXH3-64 (seed 0), the same on every
    machine. Any method may be called while another thread changes the ring: each change
    publishes a new immutable ``_Ring`` with one assignment, so readers never lock and
    never see a half-built ring.
    """

    def __init__(self, nodes: Nodes = (), *, vnodes: int = DEFAULT_VNODES, hash: HashFunction = xxh3_64) -> None:  # noqa: A002 - public name
        self._vnodes = _checks.positive_int("vnodes", vnodes)
        self._hash = hash
        self._lock = threading.Lock()
        self._ring = _EMPTY
        self.set_nodes(nodes)

    def node_for(self, key: str | bytes) -> str:
        """Return the node that owns ``key``. Raises :class:`EmptyRingError` if the ring is empty."""
        ring = self._ring
        try:
            h = self._hash(key.encode() if key.__class__ is str else key)  # type: ignore[arg-type]
        except TypeError:
            to_bytes(key)  # raises the error that names the key's type
            raise
        owner = ring.table[h >> ring.shift]  # the index knows most keys' owner
        if not owner:  # a point splits h's slot: search the points of h's bucket
            if not ring.points:
                raise EmptyRingError("the hash ring has no nodes")
            b = h >> ring.bucket_shift
            i = bisect_left(ring.points, h, ring.buckets[b], ring.buckets[b + 1])  # first point >= h ...
            owner = ring.owners[i if i < len(ring.points) else 0]  # ... or, past the last point, the first
        return ring.names[owner]  # type: ignore[return-value]

    def nodes_for(self, key: str | bytes, n: int) -> list[str]:
        """Return the first ``n`` distinct nodes clockwise from ``key`` (fewer if the ring is smaller)."""
        return list(self._walk(self._ring, key, _checks.positive_int("n", n)))

    def node_for_bounded(self, key: str | bytes, loads: Mapping[str, int], c: float = 1.25) -> str:
        """Return the first node clockwise from ``key`` whose load is below ``ceil(c * average)``.

        Bounded loads (Mirrokni, Thorup and Zadimoghaddam, 2018): ``loads`` gives each node's
        load (missing: 0); the average counts this request, so some node is below the cap.
        """
        c = _checks.load_factor(c)
        ring = self._ring
        if not ring.weights:
            raise EmptyRingError("the hash ring has no nodes")
        cap = math.ceil(c * (sum(loads.get(node, 0) for node in ring.weights) + 1) / len(ring.weights))
        return next(node for node in self._walk(ring, key, len(ring.weights)) if loads.get(node, 0) < cap)

    def _walk(self, ring: _Ring, key: str | bytes, limit: int) -> Iterator[str]:
        """Yield up to ``limit`` distinct nodes clockwise from the key, wrapping round the circle."""
        if not ring.points:
            raise EmptyRingError("the hash ring has no nodes")
        start = bisect_left(ring.points, self._hash(to_bytes(key)))
        seen: set[int] = set()
        for step in range(len(ring.points)):
            owner = ring.owners[(start + step) % len(ring.points)]
            if owner not in seen:
                seen.add(owner)
                yield ring.names[owner]  # type: ignore[misc]
                if len(seen) == limit:
                    return

    def add(self, node: str, weight: float = 1) -> None:
        """Add ``node`` with ``weight``; re-adding a present node changes its weight."""
        joiner = _checks.members({node: weight})
        self._change(lambda weights: {**weights, **joiner})

    def remove(self, node: str) -> None:
        """Remove ``node``. Raises ``KeyError`` naming it if it is not in the ring."""
        if node not in self._ring.weights:
            raise KeyError(node)
        self._change(lambda weights: {n: w for n, w in weights.items() if n != node})

    def set_nodes(self, nodes: Nodes) -> None:
        """Make the membership exactly ``nodes``, as one change (used by peer discovery)."""
        members = _checks.members(nodes)
        self._change(lambda _: members)

    def _node_points(self, node: str, weight: float) -> list[int]:
        """The sorted positions of ``node``'s points: ``hash(f"{node}#{i}")`` for each ``i``."""
        labels = _points.labels(node, count=max(1, round(self._vnodes * weight)))  # f"{node}#{i}".encode()
        return _checks.positions(sorted(map(self._hash, labels)))

    def _change(self, new_weights: Callable[[Mapping[str, float]], Mapping[str, float]]) -> None:
        """Make the membership ``new_weights(current)``. A re-weighted node leaves and rejoins."""
        with self._lock:  # one writer at a time; readers go on with the published ring
            old = self._ring
            weights = MappingProxyType(dict(new_weights(old.weights)))
            leaving = {n: self._node_points(n, w) for n, w in old.weights.items() if weights.get(n) != w}
            joining = {n: self._node_points(n, w) for n, w in weights.items() if old.weights.get(n) != w}
            if not leaving and not joining:
                return
            points, owners, names = _points.replace(old.points, old.owners, old.names, leaving, joining)
            changed = [p for node_points in (*leaving.values(), *joining.values()) for p in node_points]
            index = _index.update(old.table, old.shift, points, owners, len(names), changed)
            self._ring = _Ring(points, owners, names, weights, old.version + 1, *index)  # published

    @property
    def nodes(self) -> tuple[str, ...]:
        """The member names, sorted."""
        return tuple(sorted(self._ring.weights))

    @property
    def weights(self) -> Mapping[str, float]:
        """A read-only mapping of member name to weight."""
        return self._ring.weights

    @property
    def vnodes(self) -> int:
        """Points per unit of weight."""
        return self._vnodes

    @property
    def version(self) -> int:
        """A counter that increases with every change of membership or weight."""
        return self._ring.version

    @property
    def point_count(self) -> int:
        """The number of points on the ring."""
        return len(self._ring.points)

    def points(self) -> list[tuple[int, str]]:
        """Every ``(position, owner)`` on the ring, in clockwise order."""
        ring = self._ring
        return [(p, ring.names[i]) for p, i in zip(ring.points, ring.owners, strict=True)]  # type: ignore[misc]

    def shares(self) -> dict[str, float]:
        """Each node's exact share of the hash space, from arc lengths (sums to 1)."""
        points = self.points()
        return arcs.shares(points, RING_SIZE) if points else {}

    def __len__(self) -> int:
        return len(self._ring.weights)

    def __contains__(self, node: object) -> bool:
        return node in self._ring.weights

    def __repr__(self) -> str:
        return f"HashRing(nodes={len(self)}, points={self.point_count}, vnodes={self._vnodes})"
