"""Benchmark: this project's HashRing against uhashring and hashring, in one process.

Same keys, same node names, same machine, one core, garbage collector off during timing,
best of several runs. Balance and movement are computed exactly from arc lengths, not by
sampling keys. Prints a table with the targets of issue 2 and writes results/bench_ring.json.

    python scripts/bench_ring.py [--quick]
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import random
import statistics
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import hashring
import uhashring
from benchkit import make_console, new_results, print_targets, save_results
from rich.table import Table

from services.routing import HashRing
from services.routing.arcs import moves, peak_to_mean

RESULTS = Path("results/bench_ring.json")
SIZES = (3, 10, 100, 1000)


@dataclass(frozen=True)
class Contender:
    """How to drive one ring library. ``points`` gives its sorted (position, owner) list."""

    name: str
    build: Callable[[list[str]], Any]
    lookup: Callable[[Any], Callable[[str], str]]
    add: Callable[[Any, list[str], str], Any]
    remove: Callable[[Any, list[str], str], Any]
    points: Callable[[Any], list[tuple[int, str]]]
    size: int


def _ours_add(ring: HashRing, _nodes: list[str], node: str) -> HashRing:
    ring.add(node)
    return ring


def _ours_remove(ring: HashRing, _nodes: list[str], node: str) -> HashRing:
    ring.remove(node)
    return ring


def _uhash_add(ring: Any, _nodes: list[str], node: str) -> Any:
    ring.add_node(node)
    return ring


def _uhash_remove(ring: Any, _nodes: list[str], node: str) -> Any:
    ring.remove_node(node)
    return ring


CONTENDERS = [
    Contender(
        "HashRing (ours)",
        build=HashRing,
        lookup=lambda ring: ring.node_for,
        add=_ours_add,
        remove=_ours_remove,
        points=lambda ring: ring.points(),
        size=2**64,
    ),
    Contender(
        "uhashring",
        build=uhashring.HashRing,
        lookup=lambda ring: ring.get_node,
        add=_uhash_add,
        remove=_uhash_remove,
        points=lambda ring: sorted(ring.runtime._ring.items()),
        size=2**128,  # md5 of the key as a 128-bit integer
    ),
    Contender(
        "hashring",
        build=hashring.HashRing,
        lookup=lambda ring: ring.get_node,
        # hashring has no add/remove: a change means building a new ring
        add=lambda _ring, nodes, node: hashring.HashRing([*nodes, node]),
        remove=lambda _ring, nodes, node: hashring.HashRing([n for n in nodes if n != node]),
        points=lambda ring: sorted(ring.ring.items()),
        size=2**32,
    ),
]


def best_of(runs: int, action: Callable[[], object]) -> float:
    """The fastest of ``runs`` timings of ``action``, in seconds, with the collector off."""
    times = []
    for _ in range(runs):
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            action()
            times.append(time.perf_counter() - start)
        finally:
            gc.enable()
    return min(times)


def bytes_per_point(contender: Contender, nodes: list[str]) -> float:
    gc.collect()
    tracemalloc.start()
    ring = contender.build(nodes)
    allocated, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return allocated / len(contender.points(ring))


def movement(contender: Contender, nodes: list[str], ring: Any, newcomer: str) -> tuple[float, float]:
    """Exact fraction of the hash space that moves when ``newcomer`` joins, and the part between old nodes."""
    before = contender.points(ring)
    after = contender.points(contender.add(contender.build(nodes), nodes, newcomer))
    flows = moves(before, after, contender.size)
    return sum(flows.values()), sum(f for (_, new), f in flows.items() if new != newcomer)


def _lookup_all(lookup: Callable[[str], str], keys: list[str]) -> list[str]:
    return [lookup(k) for k in keys]


def lookup_rates(n: int, keys: list[str], runs: int) -> dict[str, float]:
    """Lookups per second for every contender, timed in turns so background noise hits all alike."""
    nodes = [f"node-{i}" for i in range(n)]
    lookups = {c.name: c.lookup(c.build(nodes)) for c in CONTENDERS}
    best = dict.fromkeys(lookups, math.inf)
    for _ in range(runs):
        for name, lookup in lookups.items():
            best[name] = min(best[name], best_of(1, partial(_lookup_all, lookup, keys)))
    return {name: len(keys) / seconds for name, seconds in best.items()}


def measure(contender: Contender, n: int, runs: int) -> dict[str, float]:
    nodes = [f"node-{i}" for i in range(n)]
    ring = contender.build(nodes)
    build_s = best_of(max(1, runs // 2), lambda: contender.build(nodes))

    def add_then_remove(timings: list[float]) -> None:
        changed = contender.build(nodes)
        start = time.perf_counter()
        changed = contender.add(changed, nodes, "newcomer")
        timings.append(time.perf_counter() - start)
        start = time.perf_counter()
        contender.remove(changed, [*nodes, "newcomer"], "newcomer")
        timings.append(time.perf_counter() - start)

    add_times: list[float] = []
    for _ in range(3):
        add_then_remove(add_times)
    moved, between = movement(contender, nodes, ring, "newcomer")
    return {
        "build_ms": build_s * 1e3,
        "add_ms": min(add_times[0::2]) * 1e3,
        "remove_ms": min(add_times[1::2]) * 1e3,
        "bytes_per_point": bytes_per_point(contender, nodes),
        "points": len(contender.points(ring)),
        "peak_to_mean": peak_to_mean(contender.points(ring), contender.size),
        "moved_on_add": moved,
        "moved_between_old_nodes": between,
        "optimum_on_add": 1 / (n + 1),
    }


def name_sets(count: int, n: int) -> list[list[str]]:
    rng = random.Random(20261127)
    return [[f"ip-10-{rng.randrange(256)}-{rng.randrange(256)}-{i}" for i in range(n)] for _ in range(count)]


def across_name_sets(contender: Contender, sets: list[list[str]]) -> dict[str, float]:
    """Movement and balance at n=10 averaged over many fleets: one fleet is one random sample."""
    moved, between, balance = [], [], []
    for nodes in sets:
        ring = contender.build(nodes)
        m, b = movement(contender, nodes, ring, "ip-10-0-0-new")
        moved.append(m)
        between.append(b)
        balance.append(peak_to_mean(contender.points(ring), contender.size))
    optimum = 1 / (len(sets[0]) + 1)
    return {
        "moved_mean": statistics.mean(moved),
        "moved_error_vs_optimum": statistics.mean(moved) / optimum - 1,
        "moved_between_old_nodes_max": max(between),
        "peak_to_mean_mean": statistics.mean(balance),
        "peak_to_mean_max": max(balance),
    }


def bounded_loads(n: int, requests: int, c: float) -> dict[str, float]:
    """Zipf-skewed requests placed on a ring with and without bounded loads: max load / mean load."""
    rng = random.Random(7)
    population = [f"item-{i}" for i in range(10_000)]
    weights = [1 / (rank + 1) ** 1.1 for rank in range(len(population))]
    stream = rng.choices(population, weights, k=requests)
    ring = HashRing([f"node-{i}" for i in range(n)])
    plain = Counter(ring.node_for(k) for k in stream)
    bounded: Counter[str] = Counter()
    for key in stream:
        bounded[ring.node_for_bounded(key, bounded, c)] += 1
    mean = requests / n
    return {
        "c": c,
        "plain_peak_to_mean": max(plain.values()) / mean,
        "bounded_peak_to_mean": max(bounded.values()) / mean,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer keys and runs (a smoke test)")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the targets say
    keys = [f"user:{i}:profile" for i in range(20_000 if args.quick else 200_000)]
    runs = 2 if args.quick else 7
    console = make_console()

    results = new_results()
    per_size: dict[str, dict[str, dict[str, float]]] = {}
    for n in SIZES:
        rates = lookup_rates(n, keys, runs)
        per_size[str(n)] = {c.name: {"lookups_per_s": rates[c.name], **measure(c, n, runs)} for c in CONTENDERS}
        console.log(f"n={n} measured")
    results["sizes"] = per_size
    sets = name_sets(20, 10)
    results["n10_over_20_fleets"] = {c.name: across_name_sets(c, sets) for c in CONTENDERS}
    results["bounded_loads"] = bounded_loads(10, 20_000 if args.quick else 100_000, 1.25)

    ours, base = CONTENDERS[0].name, CONTENDERS[1].name
    speed = Table(title=f"Speed and memory, one core ({results['date'][:10]})")
    for column in ("n", "ring", "lookups/s", "vs uhashring", "build ms", "add ms", "remove ms", "bytes/point"):
        speed.add_column(column, justify="right")
    balance = Table(title="Balance and movement on adding 1 node (exact, from arc lengths)")
    for column in ("n", "ring", "points", "peak/mean", "moved", "optimum 1/(n+1)", "between old nodes"):
        balance.add_column(column, justify="right")
    for size, contenders in per_size.items():
        for name, m in contenders.items():
            speed.add_row(
                size,
                name,
                f"{m['lookups_per_s']:,.0f}",
                f"{m['lookups_per_s'] / contenders[base]['lookups_per_s']:.2f}x",
                f"{m['build_ms']:.1f}",
                f"{m['add_ms']:.2f}",
                f"{m['remove_ms']:.2f}",
                f"{m['bytes_per_point']:.0f}",
            )
            balance.add_row(
                size,
                name,
                f"{m['points']:,}",
                f"{m['peak_to_mean']:.3f}",
                f"{m['moved_on_add'] * 100:.2f}%",
                f"{m['optimum_on_add'] * 100:.2f}%",
                f"{m['moved_between_old_nodes'] * 100:.3f}%",
            )
    console.print(speed)
    console.print(balance)
    console.print(f"machine: {results['machine']}")

    fleets = Table(title="n=10, averaged over 20 fleets of random names (exact, from arc lengths)")
    for column in (
        "ring",
        "moved on add (mean)",
        "error vs 1/11",
        "between old (max)",
        "peak/mean (mean)",
        "peak/mean (worst)",
    ):
        fleets.add_column(column, justify="right")
    for name, m in results["n10_over_20_fleets"].items():
        fleets.add_row(
            name,
            f"{m['moved_mean'] * 100:.2f}%",
            f"{m['moved_error_vs_optimum'] * 100:+.1f}%",
            f"{m['moved_between_old_nodes_max'] * 100:.3f}%",
            f"{m['peak_to_mean_mean']:.3f}",
            f"{m['peak_to_mean_max']:.3f}",
        )
    console.print(fleets)
    bl = results["bounded_loads"]
    console.print(
        f"Bounded loads, n=10, Zipf(1.1) requests: peak/mean {bl['plain_peak_to_mean']:.2f} plain, "
        f"{bl['bounded_peak_to_mean']:.3f} with c={bl['c']}"
    )

    ten = results["n10_over_20_fleets"][ours]
    targets = {
        "lookups >= 5x uhashring at every n": all(
            per_size[n][ours]["lookups_per_s"] >= 5 * per_size[n][base]["lookups_per_s"] for n in per_size
        ),
        "moved on add at n=10 within 5% of 1/(n+1), mean of 20 fleets": abs(ten["moved_error_vs_optimum"]) <= 0.05,
        "0 moved between surviving nodes": all(per_size[n][ours]["moved_between_old_nodes"] == 0 for n in per_size)
        and ten["moved_between_old_nodes_max"] == 0,
        "peak/mean at n=10 <= 1.10 (mean of 20 fleets)": ten["peak_to_mean_mean"] <= 1.10,
        "bounded loads peak/mean <= c": bl["bounded_peak_to_mean"] <= bl["c"] + 1e-9,
        "bytes/point below uhashring at every n": all(
            per_size[n][ours]["bytes_per_point"] < per_size[n][base]["bytes_per_point"] for n in per_size
        ),
    }
    results["targets"] = targets
    met = print_targets(console, targets)
    save_results(console, results, RESULTS)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
