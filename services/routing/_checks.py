"""Argument checks for the ring's public methods: each refusal is one line naming the argument."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from services.routing.hashing import RING_SIZE

Nodes = Iterable[str] | Mapping[str, float]
"""Ring members: names (weight 1 each) or a mapping of name to weight."""


def members(nodes: Nodes) -> dict[str, float]:
    """``nodes`` as ``{name: weight}``, refusing empty names and weights that are not positive and finite."""
    if isinstance(nodes, str | bytes):
        raise TypeError("nodes must be an iterable of names or a mapping of name to weight, not a single string")
    checked = {}
    for node, weight in nodes.items() if isinstance(nodes, Mapping) else ((n, 1.0) for n in nodes):
        if not isinstance(node, str) or not node:
            raise ValueError(f"node names must be non-empty strings, got {node!r}")
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 < weight < math.inf:
            raise ValueError(f"weight of node {node!r} must be a positive finite number, got {weight!r}")
        checked[node] = float(weight)
    return checked


def positive_int(name: str, value: object) -> int:
    """``value`` if it is an integer >= 1 (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def load_factor(c: object) -> float:
    """``c`` if it is a finite number >= 1: the bounded-load factor."""
    if isinstance(c, bool) or not isinstance(c, int | float) or not math.isfinite(c) or c < 1:
        raise ValueError(f"bounded-load factor c must be a finite number >= 1, got {c!r}")
    return c


def positions(points: list[int]) -> list[int]:
    """``points`` (a node's, sorted), once checked: the ring's hash function must give integers in ``[0, 2**64)``."""
    if not isinstance(points[0], int) or points[0] < 0 or points[-1] >= RING_SIZE:
        raise ValueError(f"hash must return integers in [0, 2**64), got {points[0]!r}..{points[-1]!r}")
    return points
