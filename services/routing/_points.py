"""Edits of the ring's sorted point arrays that avoid re-sorting the whole ring.

The ring (``services.routing.ring``) keeps its points as two arrays: ``points``, sorted,
and ``owners``, the id of each point's node; equal points are ordered by node name. A
change removes the leavers' points and merges in the joiners'. The result equals sorting
every ``(point, name)`` pair again (the property tests compare them); it is only faster:
a few points are spliced in by bisection, many are sorted at once as packed integers.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from functools import lru_cache


def labels(node: str, count: int) -> list[bytes]:
    """``[b"node#0", b"node#1", ...]``: what a node's ``count`` points are hashed from."""
    return list(map(f"{node}#".encode().__add__, _suffixes(count)))


@lru_cache(maxsize=64)  # a large build hashes millions of labels; thread-safe, unlike a shared list
def _suffixes(count: int) -> tuple[bytes, ...]:
    return tuple(str(i).encode() for i in range(count))


def replace(
    points: array[int],
    owners: array[int],
    names: Sequence[str | None],
    leaving: Mapping[str, list[int]],
    joining: Mapping[str, list[int]],
) -> tuple[array[int], array[int], tuple[str | None, ...]]:
    """The ring without the leavers' points and with the joiners' (node -> its sorted points).

    Owners are small ids into ``names`` (``None`` where an id is free). A node keeps its id
    while it stays, which lets the lookup index patch only the slots that changed; the
    leavers' ids are freed first and the lowest free ids go to the joiners.
    """
    gone = {i: leaving[name] for i, name in enumerate(names) if name is not None and name in leaving}
    new_names = [None if i in gone else name for i, name in enumerate(names)]
    free = [i for i in range(len(new_names) - 1, 0, -1) if new_names[i] is None]  # lowest id last
    new = {}
    for node, node_points in joining.items():
        i = free.pop() if free else len(new_names)
        new_names[i : i + 1] = [node]  # a free id, or a new one at the end
        new[i] = node_points
    while len(new_names) > 1 and new_names[-1] is None:
        new_names.pop()
    points, owners = _merge(*_delete(points, owners, gone), new, new_names)
    return points, owners, tuple(new_names)


def _delete(points: array[int], owners: array[int], leaving: Mapping[int, list[int]]) -> tuple[array[int], array[int]]:
    """Remove the points of each leaving node (id -> its points), finding them by bisection."""
    if not leaving:
        return points, owners
    doomed: set[int] = set()
    for node, node_points in leaving.items():
        for point in node_points:
            lo = bisect_left(points, point)
            hi = bisect_right(points, point, lo)
            doomed.update(i for i in range(lo, hi) if owners[i] == node)  # a collision has other owners
    kept_points, kept_owners = array("Q"), array("I")
    start = 0
    for i in sorted(doomed):
        kept_points.extend(points[start:i])
        kept_owners.extend(owners[start:i])
        start = i + 1
    kept_points.extend(points[start:])
    kept_owners.extend(owners[start:])
    return kept_points, kept_owners


def _merge(
    points: array[int], owners: array[int], joining: Mapping[int, list[int]], names: Sequence[str | None]
) -> tuple[array[int], array[int]]:
    """Insert each joining node's points (id -> its points) in ring order; equal points in name order."""
    count = sum(map(len, joining.values()))
    if count == 0:
        return points, owners
    if count * 8 < len(points):  # a few points: splice them in
        new = sorted((p, names[i], i) for i, node_points in joining.items() for p in node_points)
        merged_points, merged_owners = array("Q"), array("I")
        start = 0
        for point, name, node in new:
            i = bisect_left(points, point, start)
            while i < len(points) and points[i] == point and names[owners[i]] < name:  # type: ignore[operator]
                i += 1
            merged_points.extend(points[start:i])
            merged_owners.extend(owners[start:i])
            merged_points.append(point)
            merged_owners.append(node)
            start = i
        merged_points.extend(points[start:])
        merged_owners.extend(owners[start:])
        return merged_points, merged_owners
    # Many points: sort everything at once, each point packed with its node's name rank into
    # one integer, which sorts several times faster than (point, name) tuples.
    by_name = sorted((name, i) for i, name in enumerate(names) if name is not None)
    rank = {i: r for r, (_, i) in enumerate(by_name)}
    bits = max(1, (len(by_name) - 1).bit_length())
    packed = [p << bits | rank[i] for p, i in zip(points, owners, strict=True)]
    for node, node_points in joining.items():
        r = rank[node]
        packed.extend(p << bits | r for p in node_points)
    packed.sort()
    mask = (1 << bits) - 1
    id_by_rank = [i for _, i in by_name]
    return array("Q", [k >> bits for k in packed]), array("I", [id_by_rank[k & mask] for k in packed])
