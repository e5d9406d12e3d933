"""The load's figures as JSON, a table and a chart."""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from load.drive import Observed
from load.system import NodeCounters

HIT_TIERS = ("local", "redis")


def _percentiles(latencies: list[float]) -> dict[str, float]:
    if not latencies:
        return {"p50_ms": 0.0, "p95_ms": 0.0, "p99_ms": 0.0}
    if len(latencies) == 1:
        return {"p50_ms": latencies[0], "p95_ms": latencies[0], "p99_ms": latencies[0]}
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return {"p50_ms": round(cuts[49], 2), "p95_ms": round(cuts[94], 2), "p99_ms": round(cuts[98], 2)}


def summarise(observed: Observed, *, warmup: float = 0.0) -> dict[str, Any]:
    """requests/s, latency percentiles overall and per endpoint, errors by status (after ``warmup`` s)."""
    samples = [s for s in observed.samples if s[0] >= warmup]
    span = max(observed.seconds - warmup, 1e-9)
    by_name: defaultdict[str, list[float]] = defaultdict(list)
    errors_by_status: defaultdict[str, int] = defaultdict(int)
    for _, ms, name, status in samples:
        by_name[name].append(ms)
        if not 200 <= status < 400:
            errors_by_status[str(status or "connection")] += 1
    endpoints = {
        name: {"requests": len(ms), "requests_per_s": round(len(ms) / span, 1), **_percentiles(ms)}
        for name, ms in sorted(by_name.items())
    }
    return {
        "requests": len(samples),
        "seconds": round(span, 2),
        "requests_per_s": round(len(samples) / span, 1),
        **_percentiles([s[1] for s in samples]),
        "errors": sum(errors_by_status.values()),
        "errors_by_status": dict(errors_by_status),
        "endpoints": endpoints,
    }


def node_shares(before: dict[str, NodeCounters], after: dict[str, NodeCounters]) -> dict[str, Any]:
    """Per node: its share of the owner-served reads in the run; overall hit rate and fallbacks."""
    served: dict[str, float] = {}
    hits = total = fallbacks = 0.0
    for node, now in after.items():
        then = before.get(node, NodeCounters({}, 0.0))
        delta = {tier: now.tiers.get(tier, 0.0) - then.tiers.get(tier, 0.0) for tier in now.tiers}
        reads = sum(v for tier, v in delta.items() if tier != "missing")
        served[node] = reads
        hits += sum(delta.get(tier, 0.0) for tier in HIT_TIERS)
        total += reads
        fallbacks += now.fallbacks - then.fallbacks
    return {
        "node_share": {node: round(n / total, 4) if total else 0.0 for node, n in served.items()},
        "hit_rate": round(hits / total, 4) if total else 0.0,
        "owner_served_reads": int(total),
        "fallbacks": int(fallbacks),
    }


def table(result: dict[str, Any]) -> str:
    """The figures as a few aligned lines."""
    lines = [
        f"{'endpoint':<20} {'req':>8} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}",
        *(
            f"{name:<20} {e['requests']:>8} {e['requests_per_s']:>8} {e['p50_ms']:>8} {e['p95_ms']:>8} {e['p99_ms']:>8}"
            for name, e in result["endpoints"].items()
        ),
        f"{'all':<20} {result['requests']:>8} {result['requests_per_s']:>8} {result['p50_ms']:>8} "
        f"{result['p95_ms']:>8} {result['p99_ms']:>8}",
        f"errors: {result['errors']} {result['errors_by_status'] or ''}".rstrip(),
    ]
    if "hit_rate" in result:
        shares = ", ".join(f"{node} {share * 100:.1f}%" for node, share in result["node_share"].items())
        lines.append(f"hit rate: {result['hit_rate'] * 100:.1f}%; owner-served reads by node: {shares}")
        lines.append(f"fallbacks (a peer failed, a later node served): {result['fallbacks']}")
    return "\n".join(lines)


def chart(observed: Observed, path: Path, title: str, bin_seconds: float = 1.0) -> Path:
    """Requests/s and p50/p99 latency per second of the run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bins: defaultdict[int, list[float]] = defaultdict(list)
    for at, ms, _, _ in observed.samples:
        bins[int(at / bin_seconds)].append(ms)
    slots = range(max(bins) + 1) if bins else range(0)
    times = [slot * bin_seconds for slot in slots]
    figure, (rate, latency) = plt.subplots(2, 1, figsize=(10, 5.5), sharex=True)
    rate.plot(times, [len(bins[s]) / bin_seconds for s in slots], color="#2f6db5")
    rate.set_ylabel("requests/s")
    for q, colour in ((49, "#5a8f3c"), (98, "#b5452f")):
        values = [statistics.quantiles(bins[s], n=100)[q] if len(bins[s]) > 1 else float("nan") for s in slots]
        latency.plot(times, values, color=colour, label=f"p{q + 1}")
    latency.set_ylabel("latency ms")
    latency.set_xlabel("seconds")
    latency.legend()
    for axis in (rate, latency):
        axis.grid(alpha=0.3)
    figure.suptitle(title)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
