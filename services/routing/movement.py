"""The movement report: which keys change owner when the fleet changes, ring against modulo.

``python -m services.routing.movement --nodes 4 --add 1 --keys 100000`` places the keys on
a ring of S1..S4, adds S5, and prints each server's share before and after, how many keys
each old server gave to the new one, the total moved against the optimum 1/(n+1), and the
same for naive ``hash(key) % n`` routing. It also draws the shares as a PNG chart.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from services.routing import arcs
from services.routing.hashing import RING_SIZE, to_bytes, xxh3_64
from services.routing.ring import DEFAULT_VNODES, HashRing

DEFAULT_CHART = Path("results/movement.png")


@dataclass(frozen=True, slots=True)
class SchemeResult:
    """Where the keys went under one routing scheme."""

    keys_before: dict[str, int]
    keys_after: dict[str, int]
    moved: dict[str, dict[str, int]]  # moved[old][new] = keys
    moved_total: int
    moved_between_survivors: int

    def moved_fraction(self, keys: int) -> float:
        """The fraction of all keys that changed owner."""
        return self.moved_total / keys


@dataclass(frozen=True, slots=True)
class MovementReport:
    """Before/after membership, the ring's exact shares, and key movement per scheme."""

    before: dict[str, float]
    after: dict[str, float]
    keys: int
    vnodes: int
    optimum: float  # the least fraction of keys that any scheme must move
    ring: SchemeResult
    modulo: SchemeResult
    exact_share_before: dict[str, float]
    exact_share_after: dict[str, float]
    exact_moved: float
    joined: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)


def _route(owners_before: Sequence[str], owners_after: Sequence[str], survivors: set[str]) -> SchemeResult:
    moved: dict[str, Counter[str]] = {}
    between = 0
    for old, new in zip(owners_before, owners_after, strict=True):
        if old != new:
            moved.setdefault(old, Counter())[new] += 1
            if old in survivors and new in survivors:
                between += 1
    return SchemeResult(
        keys_before=dict(Counter(owners_before)),
        keys_after=dict(Counter(owners_after)),
        moved={old: dict(news) for old, news in moved.items()},
        moved_total=sum(sum(news.values()) for news in moved.values()),
        moved_between_survivors=between,
    )


def optimum_moved(before: Mapping[str, float], after: Mapping[str, float]) -> float:
    """The least fraction of keys that must move for loads proportional to the weights."""
    total_before, total_after = sum(before.values()), sum(after.values())
    kept = sum(min(before.get(n, 0) / total_before, after.get(n, 0) / total_after) for n in before.keys() | after)
    return 1 - kept


def movement(
    before: Mapping[str, float], after: Mapping[str, float], *, keys: int, vnodes: int = DEFAULT_VNODES
) -> MovementReport:
    """Place ``keys`` keys before and after a membership change, under the ring and under modulo.

    Modulo routing is ``hash(key) % n`` over the member list in order (weights ignored),
    with the same fixed hash as the ring, so only the scheme differs.
    """
    if keys < 1:
        raise ValueError(f"--keys must be a positive integer, got {keys}")
    ring_before = HashRing(before, vnodes=vnodes)
    ring_after = HashRing(after, vnodes=vnodes)
    names = [f"key-{i}" for i in range(keys)]
    hashes = [xxh3_64(to_bytes(name)) for name in names]
    order_before, order_after = list(before), list(after)
    survivors = set(before) & set(after)
    return MovementReport(
        before=dict(before),
        after=dict(after),
        keys=keys,
        vnodes=vnodes,
        optimum=optimum_moved(before, after),
        ring=_route([ring_before.node_for(k) for k in names], [ring_after.node_for(k) for k in names], survivors),
        modulo=_route(
            [order_before[h % len(order_before)] for h in hashes],
            [order_after[h % len(order_after)] for h in hashes],
            survivors,
        ),
        exact_share_before=ring_before.shares(),
        exact_share_after=ring_after.shares(),
        exact_moved=sum(arcs.moves(ring_before.points(), ring_after.points(), RING_SIZE).values()),
        joined=[n for n in after if n not in before],
        left=[n for n in before if n not in after],
    )


def _parse_weights(text: str) -> dict[str, float]:
    weights = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--weights entries look like NAME=WEIGHT, got {item!r}")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"--weights: weight of {name.strip()!r} must be a number, got {value!r}") from None
    return weights


def _memberships(args: argparse.Namespace) -> tuple[dict[str, float], dict[str, float]]:
    if args.nodes < 1:
        raise ValueError(f"--nodes must be at least 1, got {args.nodes}")
    if args.add < 0:
        raise ValueError(f"--add must be 0 or more, got {args.add}")
    weights = _parse_weights(args.weights)
    before = [f"S{i}" for i in range(1, args.nodes + 1)]
    after = [n for n in before if n not in args.remove] + [
        f"S{i}" for i in range(args.nodes + 1, args.nodes + args.add + 1)
    ]
    unknown = [n for n in [*args.remove, *weights] if n not in before and n not in after]
    if unknown:
        raise ValueError(f"unknown server {unknown[0]!r}: the servers are {', '.join(before + after[len(before) :])}")
    if not after:
        raise ValueError("the change leaves no servers")
    if before == after:
        raise ValueError("nothing changes: give --add N or --remove NAME")
    return {n: weights.get(n, 1.0) for n in before}, {n: weights.get(n, 1.0) for n in after}


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def render(report: MovementReport) -> None:
    """Print the report as tables on the terminal."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    keys = report.keys
    change = ", ".join([*(f"+{n}" for n in report.joined), *(f"-{n}" for n in report.left)])
    table = Table(title=f"{len(report.before)} -> {len(report.after)} servers ({change}), {keys:,} keys")
    table.add_column("server")
    for scheme_name in ("ring", "hash % n"):
        for column in ("before", "after", "moved out"):
            table.add_column(f"{scheme_name}\n{column}", justify="right")
    for name in dict.fromkeys([*report.before, *report.after]):
        row = [name]
        for scheme in (report.ring, report.modulo):
            row += [
                _pct(scheme.keys_before.get(name, 0) / keys),
                _pct(scheme.keys_after.get(name, 0) / keys),
                _pct(sum(scheme.moved.get(name, {}).values()) / keys),
            ]
        table.add_row(*row)
    console.print(table)

    totals = Table(title="Keys that changed owner")
    for column in ("scheme", "moved", "optimum", "moved between\nsurviving servers"):
        totals.add_column(column, justify="right")
    for scheme_name, scheme in (("consistent hashing", report.ring), ("hash % n", report.modulo)):
        totals.add_row(
            scheme_name,
            _pct(scheme.moved_fraction(keys)),
            _pct(report.optimum),
            f"{scheme.moved_between_survivors:,} keys ({_pct(scheme.moved_between_survivors / keys)})",
        )
    console.print(totals)
    console.print(
        f"Exact, from arc lengths: the ring moves {_pct(report.exact_moved)} of the hash space "
        f"(optimum {_pct(report.optimum)}, {report.vnodes} vnodes per unit weight)."
    )


def draw_chart(report: MovementReport, path: Path) -> Path:
    """Draw each server's share before and after, ring against modulo, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys([*report.before, *report.after]))
    positions = range(len(names))
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for axis, title, scheme in (
        (axes[0], "Consistent hashing", report.ring),
        (axes[1], "hash(key) % n", report.modulo),
    ):
        before = [scheme.keys_before.get(n, 0) / report.keys * 100 for n in names]
        after = [scheme.keys_after.get(n, 0) / report.keys * 100 for n in names]
        kept = [
            (scheme.keys_before.get(n, 0) - sum(scheme.moved.get(n, {}).values())) / report.keys * 100 for n in names
        ]
        axis.bar([p - 0.2 for p in positions], before, width=0.4, label="share before", color="#9db4d3")
        axis.bar([p + 0.2 for p in positions], after, width=0.4, label="share after", color="#2f6db5")
        axis.bar([p - 0.2 for p in positions], kept, width=0.4, label="kept its keys", color="#5a8f3c", alpha=0.8)
        axis.set_xticks(list(positions), names)
        axis.set_title(f"{title}: {_pct(scheme.moved_fraction(report.keys))} of keys moved")
        axis.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("% of keys")
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=3, frameon=False)
    servers = f"{len(report.before)} -> {len(report.after)} servers"
    figure.suptitle(f"{servers}, {report.keys:,} keys (optimum: {_pct(report.optimum)} moved)")
    figure.tight_layout(rect=(0, 0.07, 1, 1))
    try:
        figure.savefig(path, dpi=110, format="png")  # exactly at path: no ".png" appended
    finally:
        plt.close(figure)
    return path


def _as_json(report: MovementReport) -> str:
    data = asdict(report)
    data["ring"]["moved_fraction"] = report.ring.moved_fraction(report.keys)
    data["modulo"]["moved_fraction"] = report.modulo.moved_fraction(report.keys)
    return json.dumps(data, indent=2, sort_keys=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the movement report from the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m services.routing.movement",
        description="Show which keys change owner when servers S1..Sn gain or lose members.",
    )
    parser.add_argument("--nodes", type=int, default=4, help="servers before the change, named S1..Sn (default 4)")
    parser.add_argument("--add", type=int, default=0, help="servers to add (default 0)")
    parser.add_argument("--remove", action="append", default=[], metavar="NAME", help="a server to remove; repeatable")
    parser.add_argument("--weights", default="", help="weights, e.g. S1=2,S5=0.5 (default 1 each)")
    parser.add_argument("--vnodes", type=int, default=DEFAULT_VNODES, help=f"points per unit weight ({DEFAULT_VNODES})")
    parser.add_argument("--keys", type=int, default=100_000, help="keys to place (default 100000)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON instead of tables")
    parser.add_argument("--chart", type=Path, help=f"PNG chart path in an existing folder (default {DEFAULT_CHART})")
    parser.add_argument("--no-chart", action="store_true", help="don't draw the chart")
    args = parser.parse_args(argv)
    try:
        chart = None if args.no_chart else _chart_path(args.chart)
        before, after = _memberships(args)
        report = movement(before, after, keys=args.keys, vnodes=args.vnodes)
    except ValueError as error:
        parser.exit(2, f"error: {error}\n")
    if args.json:
        print(_as_json(report))
    else:
        render(report)
    if chart is not None:
        try:
            draw_chart(report, chart)
        except OSError as error:
            parser.exit(1, f"error: --chart {chart}: {error.strerror or error}\n")
        print(f"chart: {chart}", file=sys.stderr if args.json else sys.stdout)
    return 0


def _chart_path(chosen: Path | None) -> Path:
    """The chart's path, checked before any work: only the default's folder is created."""
    if chosen is None:
        DEFAULT_CHART.parent.mkdir(parents=True, exist_ok=True)  # the project's own results folder
        return DEFAULT_CHART
    if not chosen.parent.is_dir():
        raise ValueError(f"--chart {chosen}: the folder {chosen.parent} does not exist (it is not created)")
    if chosen.is_dir():
        raise ValueError(f"--chart {chosen} is a folder: give the path of a PNG file")
    return chosen


if __name__ == "__main__":
    sys.exit(main())
