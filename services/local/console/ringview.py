"""The ring as the console draws it: arcs per node, shares, and where a key lands."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.routing import HashRing
from services.routing.arcs import moves
from services.routing.hashing import RING_SIZE, to_bytes, xxh3_64


def arcs(ring: HashRing, names: Mapping[str, str]) -> list[tuple[float, float, str]]:
    """The circle as ``(start, end, node id)`` fractions of a turn, adjacent arcs of one node merged.

    ``names`` maps a ring member (``host:port``) to the node id the console shows.
    """
    points = ring.points()
    if not points:
        return []
    merged: list[tuple[float, float, str]] = []
    previous = points[-1][0] - RING_SIZE
    for position, member in points:  # the arc (previous, position] belongs to the point at position
        owner = names.get(member, member)
        start, end = previous / RING_SIZE, position / RING_SIZE
        if merged and merged[-1][2] == owner and merged[-1][1] == start:
            merged[-1] = (merged[-1][0], end, owner)
        else:
            merged.append((start, end, owner))
        previous = position
    if merged[0][0] < 0:  # the arc across zero: split it so every arc lies within [0, 1)
        start, end, owner = merged[0]
        merged[0] = (0.0, end, owner)
        merged.append((1 + start, 1.0, owner))
    return [(round(s, 6), round(e, 6), o) for s, e, o in merged]


def placement(ring: HashRing, key: str, names: Mapping[str, str]) -> dict[str, Any]:
    """Where ``key`` lands: its position (fraction of a turn), owner and fallbacks, as node ids."""
    preference = [names.get(m, m) for m in ring.nodes_for(key, len(ring))]
    return {
        "key": key,
        "position": xxh3_64(to_bytes(key)) / RING_SIZE,
        "owner": preference[0],
        "fallbacks": preference[1:],
    }


def movement(before: HashRing, after: HashRing, names: Mapping[str, str]) -> dict[str, Any]:
    """The share of the key space that changed owner between two rings, by (from, to), and the optimum.

    Exact (from arc lengths, not sampled keys). The optimum is what a perfect scheme moves: the
    new nodes' fair share when nodes join, the leaving nodes' share when they leave.
    """
    moved = moves(before.points(), after.points(), RING_SIZE) if len(before) and len(after) else {}
    old, new = set(before.nodes), set(after.nodes)
    joined, left = new - old, old - new
    optimum = 0.0
    if joined and len(after):
        optimum += len(joined) / len(after)
    if left and len(before):
        optimum += sum(before.shares().get(m, 0.0) for m in left)
    return {
        "before": sorted(names.get(m, m) for m in old),
        "after": sorted(names.get(m, m) for m in new),
        "joined": sorted(names.get(m, m) for m in joined),
        "left": sorted(names.get(m, m) for m in left),
        "moved": [
            {"from": names.get(a, a), "to": names.get(b, b), "fraction": round(f, 6)}
            for (a, b), f in sorted(moved.items(), key=lambda item: -item[1])
        ],
        "moved_total": round(sum(moved.values()), 6),
        "optimum": round(optimum, 6),
    }
