"""Hand-checkable cases: a toy hash places every point and key where the test says."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from services.routing import DEFAULT_VNODES, EmptyRingError, HashRing, xxh3_64

# Points of nodes a, b, c with one vnode each, and keys that hash to their own number.
TOY_POINTS = {b"a#0": 100, b"b#0": 200, b"c#0": 300}


def toy(data: bytes) -> int:
    return TOY_POINTS[data] if data in TOY_POINTS else int(data)


def toy_ring(nodes: tuple[str, ...] = ("a", "b", "c")) -> HashRing:
    return HashRing(nodes, vnodes=1, hash=toy)


@pytest.mark.parametrize(
    ("key", "owner"),
    [("0", "a"), ("100", "a"), ("101", "b"), ("200", "b"), ("250", "c"), ("300", "c"), ("301", "a"), ("999", "a")],
)
def test_a_key_belongs_to_the_first_point_clockwise(key: str, owner: str) -> None:
    assert toy_ring().node_for(key) == owner


def test_str_keys_hash_as_their_utf8_bytes() -> None:
    ring = HashRing(["x", "y", "z"])
    keys = [f"k{i}" for i in range(200)] + [f"clé-{i}-日本" for i in range(200)]
    assert all(ring.node_for(k) == ring.node_for(k.encode("utf-8")) for k in keys)
    assert all(ring.nodes_for(k, 2) == ring.nodes_for(k.encode("utf-8"), 2) for k in keys)


def test_nodes_for_walks_clockwise_over_distinct_nodes() -> None:
    ring = toy_ring()
    assert ring.nodes_for("150", 2) == ["b", "c"]
    assert ring.nodes_for("250", 3) == ["c", "a", "b"]
    assert ring.nodes_for("250", 10) == ["c", "a", "b"]
    assert HashRing(["x", "y", "z"]).nodes_for("key", 3)[0] == HashRing(["x", "y", "z"]).node_for("key")


def test_removing_a_node_hands_its_arc_to_the_next_one() -> None:
    ring = toy_ring()
    ring.remove("b")
    assert [ring.node_for(k) for k in ("150", "250", "350")] == ["c", "c", "a"]
    ring.add("b")
    assert [ring.node_for(k) for k in ("150", "250", "350")] == ["b", "c", "a"]


def test_colliding_points_go_to_the_smaller_name_whatever_the_order() -> None:
    collide = {b"a#0": 100, b"b#0": 100, b"c#0": 300}

    def hash_(data: bytes) -> int:
        return collide[data] if data in collide else int(data)

    for order in (["a", "b", "c"], ["c", "b", "a"], ["b", "c", "a"]):
        ring = HashRing([], vnodes=1, hash=hash_)
        for node in order:
            ring.add(node)
        assert ring.node_for("50") == "a"
        assert ring.points() == [(100, "a"), (100, "b"), (300, "c")]
    ring.remove("a")  # a known Python ring raises KeyError here after a collision
    assert ring.node_for("50") == "b"
    ring.remove("b")
    assert ring.node_for("50") == "c"
    assert ring.points() == [(300, "c")]


def test_weights_scale_the_number_of_points() -> None:
    ring = HashRing({"big": 3, "small": 1, "half": 0.5}, vnodes=10)
    owners = [owner for _, owner in ring.points()]
    assert (owners.count("big"), owners.count("small"), owners.count("half")) == (30, 10, 5)
    assert ring.weights == {"big": 3.0, "small": 1.0, "half": 0.5}


def test_readding_a_node_with_another_weight_changes_only_its_points() -> None:
    ring = HashRing(["a", "b", "c"], vnodes=50)
    others = [(p, o) for p, o in ring.points() if o != "a"]
    version = ring.version
    ring.add("a", 2)
    assert [(p, o) for p, o in ring.points() if o != "a"] == others
    assert [o for _, o in ring.points()].count("a") == 100
    assert ring.version == version + 1
    ring.add("a", 2)  # the same weight again changes nothing
    assert ring.version == version + 1


def test_membership_views() -> None:
    ring = HashRing(["b", "a"])
    assert ring.nodes == ("a", "b")
    assert len(ring) == 2
    assert "a" in ring
    assert "z" not in ring
    assert ring.vnodes == DEFAULT_VNODES
    assert ring.point_count == 2 * DEFAULT_VNODES
    ring.set_nodes(["b", "c"])
    assert ring.nodes == ("b", "c")
    assert abs(sum(ring.shares().values()) - 1) < 1e-12


def test_an_empty_ring_raises_a_lookup_error() -> None:
    ring = HashRing()
    for lookup in (lambda: ring.node_for("k"), lambda: ring.nodes_for("k", 1), lambda: ring.node_for_bounded("k", {})):
        with pytest.raises(EmptyRingError, match="no nodes"):
            lookup()
    assert issubclass(EmptyRingError, LookupError)
    ring.add("a")
    ring.remove("a")
    with pytest.raises(LookupError):
        ring.node_for("k")
    assert ring.shares() == {}


def test_removing_an_unknown_node_raises_key_error_naming_it() -> None:
    with pytest.raises(KeyError, match="ghost"):
        HashRing(["a"]).remove("ghost")


@pytest.mark.parametrize("weight", [0, -1, float("nan"), float("inf"), "2", None, True])
def test_a_bad_weight_raises_value_error_naming_the_node(weight: object) -> None:
    with pytest.raises(ValueError, match="weight of node 'n1'"):
        HashRing({"n1": weight})
    with pytest.raises(ValueError, match="weight of node 'n1'"):
        HashRing().add("n1", weight)  # type: ignore[arg-type]


def test_other_bad_arguments_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="vnodes"):
        HashRing(vnodes=0)
    with pytest.raises(ValueError, match="non-empty strings"):
        HashRing([""])
    with pytest.raises(TypeError, match="not a single string"):
        HashRing("abc")
    with pytest.raises(ValueError, match="n must be a positive integer"):
        HashRing(["a"]).nodes_for("k", 0)
    with pytest.raises(TypeError, match="key must be str or bytes, not int"):
        HashRing(["a"]).node_for(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"hash must return integers in \[0, 2\*\*64\)"):
        HashRing(["a"], hash=lambda data: -1)


def test_the_default_hash_is_fixed() -> None:
    """Pinned values: if these change, every deployed fleet would disagree with new nodes."""
    assert xxh3_64(b"") == 0x2D06800538D394C2
    ring = HashRing([f"S{i}" for i in range(1, 6)])
    assert [ring.node_for(f"key-{i}") for i in range(8)] == PINNED_OWNERS


PINNED_OWNERS = ["S4", "S3", "S4", "S3", "S5", "S4", "S5", "S5"]


def test_owners_are_identical_across_processes() -> None:
    """Python's hash() is salted per process; the ring's hash must not be."""
    script = (
        "from services.routing import HashRing;"
        "r = HashRing(['web-a', 'web-b', 'web-c', 'web-d']);"
        "print(','.join(r.node_for(f'key-{i}') for i in range(300)))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={"PYTHONHASHSEED": seed, "PYTHONPATH": "."},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "random")
    }
    ring = HashRing(["web-a", "web-b", "web-c", "web-d"])
    assert outputs == {",".join(ring.node_for(f"key-{i}") for i in range(300)) + "\n"}


def test_adding_to_a_large_ring_hashes_only_the_new_nodes_points() -> None:
    calls = 0

    def counting(data: bytes) -> int:
        nonlocal calls
        calls += 1
        return xxh3_64(data)

    ring = HashRing([f"n{i}" for i in range(1000)], vnodes=32, hash=counting)
    calls = 0
    ring.add("newcomer")
    assert calls == 32
    calls = 0
    ring.remove("n500")
    assert calls == 32


def test_readers_never_see_a_half_built_ring() -> None:
    ring = HashRing([f"base{i}" for i in range(8)], vnodes=64)
    keys = [f"key-{i}" for i in range(500)]
    stop = threading.Event()
    errors: list[BaseException] = []
    seen: set[str] = set()
    passes = [0, 0, 0]  # full passes over the keys, per reader

    def read(reader: int) -> None:
        try:
            while not stop.is_set():
                for key in keys:
                    seen.add(ring.node_for(key))
                    nodes = ring.nodes_for(key, 3)
                    assert len(set(nodes)) == 3
                passes[reader] += 1
        except BaseException as error:
            errors.append(error)

    readers = [threading.Thread(target=read, args=(i,)) for i in range(len(passes))]
    for reader in readers:
        reader.start()
    deadline = time.monotonic() + 30
    rounds = 0
    # Keep changing the ring until every reader has read it through several changes.
    while rounds < 60 or min(passes) < 3:
        ring.add(f"extra{rounds % 5}")
        ring.remove(f"extra{rounds % 5}")
        ring.set_nodes([f"base{i}" for i in range(8)] + [f"tmp{rounds % 60}"])
        rounds += 1
        if time.monotonic() > deadline:
            break
    stop.set()
    for reader in readers:
        reader.join()
    assert errors == []
    assert min(passes) >= 3, f"readers made {passes} passes while the ring changed"
    allowed = {f"base{i}" for i in range(8)} | {f"extra{i}" for i in range(5)} | {f"tmp{i}" for i in range(60)}
    assert seen <= allowed
    assert len(seen) > 8  # the readers saw nodes that came and went
