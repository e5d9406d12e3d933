"""Exact load and movement of a ring, from arc lengths rather than sampled keys.

A ring is a sorted list of ``(position, owner)`` points on a circle of ``size``
positions; each position belongs to the next point clockwise. Any ring library can be
measured this way, which is how the benchmark compares them without sampling noise.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from itertools import pairwise

Points = Sequence[tuple[int, str]]


def shares(points: Points, size: int) -> dict[str, float]:
    """Each owner's fraction of the circle (sums to 1). ``points`` must not be empty."""
    arcs: Counter[str] = Counter()
    previous = points[-1][0] - size
    for position, owner in points:
        arcs[owner] += position - previous
        previous = position
    return {owner: arc / size for owner, arc in arcs.items()}


def peak_to_mean(points: Points, size: int) -> float:
    """The largest owner's share over the mean share: 1.0 is a perfect balance."""
    loads = shares(points, size)
    return max(loads.values()) * len(loads)


def _owner_at(points: Points, index: int) -> str:
    return points[index % len(points)][1]


def moves(before: Points, after: Points, size: int) -> dict[tuple[str, str], float]:
    """The fraction of the circle whose owner changed, per ``(old owner, new owner)``."""
    boundaries = sorted({p for p, _ in before} | {p for p, _ in after})
    moved: Counter[tuple[str, str]] = Counter()
    i = j = 0  # next point at or after the current arc, in before and after
    for lo, hi in pairwise([boundaries[-1] - size, *boundaries]):
        # The arc (lo, hi] belongs to the first point at or after hi on each ring.
        while i < len(before) and before[i][0] < hi:
            i += 1
        while j < len(after) and after[j][0] < hi:
            j += 1
        old, new = _owner_at(before, i), _owner_at(after, j)
        if old != new:
            moved[old, new] += hi - lo
    return {pair: arc / size for pair, arc in moved.items()}
