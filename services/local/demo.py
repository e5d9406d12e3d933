"""``make demo``: start the whole system on one machine, run the scenario live, show the results.

The progress of each step is drawn live with rich; at the end a summary table is printed
and a chart of hit rate and throughput over time is written to ``results/demo.png``.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from services.local.cluster import LocalSystem, Options, StartupError
from services.local.scenario import HIT_TIERS, SCALE_OUT_STALL_SECONDS, ScenarioConfig, ScenarioResult, run_scenario

CHART = Path("results/demo.png")


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def summary(result: ScenarioResult, items: int) -> Table:
    """The scenario's outcome as a table, beside what each figure should be."""
    table = Table(title="What the demo showed")
    table.add_column("step")
    table.add_column("measured", justify="right")
    table.add_column("expected")
    n = len(result.nodes_before)
    rows = [
        ("1 reads served from a cache", _pct(result.hit_rate_warm), "most"),
        (f"2 {n} -> {n + 1} nodes: keys moved", _pct(result.moved_total / items), f"~1/{n + 1} = {_pct(1 / (n + 1))}"),
        ("  ... between old nodes", str(result.moved_between_old_nodes), "0: all to the new node"),
        ("  ... with hash % n instead", _pct(result.moved_modulo / items), f"~{n}/{n + 1} = {_pct(n / (n + 1))}"),
        ("  warm keys still cached", _pct(result.warm_keys_kept), f"~{_pct(1 - result.moved_total / items)}"),
        (
            "  slowest read while adding it",
            f"{result.slowest_during_scale_out * 1000:.0f} ms",
            f"no stall: < {SCALE_OUT_STALL_SECONDS * 1000:.0f} ms",
        ),
        ("  hit rate after scale-out", _pct(result.hit_rate_after_scale_out), "a dip"),
        ("  hit rate, new node warm", _pct(result.hit_rate_recovered), "recovered"),
        (
            f"3 jobs, {result.killed_worker} killed",
            f"{result.jobs_succeeded}/{result.jobs_submitted} done",
            f"all, once ({result.jobs_retried} retried)",
        ),
        ("4 poison job", f"{result.poison_status}", "failed"),
        ("  ... its message", "in the DLQ" if result.poison_dead_lettered else "not in the DLQ", "in the DLQ"),
        ("5xx answers", str(result.server_errors), "0"),
    ]
    for row in rows:
        table.add_row(*row)
    return table


def draw_chart(result: ScenarioResult, items: int, path: Path, bin_seconds: float = 0.5) -> Path:
    """Hit rate and throughput over time, with the scale-out and the worker crash marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    requests: defaultdict[int, int] = defaultdict(int)
    reads: defaultdict[int, int] = defaultdict(int)
    hits: defaultdict[int, int] = defaultdict(int)
    for sample in result.samples:
        slot = int(sample.at / bin_seconds)
        requests[slot] += 1
        if sample.cache is not None:
            reads[slot] += 1
            hits[slot] += sample.cache in HIT_TIERS
    slots = range(max(requests) + 1) if requests else range(0)
    times = [s * bin_seconds for s in slots]
    figure, (rate_axis, hit_axis) = plt.subplots(2, 1, figsize=(10, 5.5), sharex=True)
    rate_axis.plot(times, [requests[s] / bin_seconds for s in slots], color="#2f6db5")
    rate_axis.set_ylabel("requests/s")
    read_slots = [s for s in slots if reads[s]]
    hit_axis.plot(
        [s * bin_seconds for s in read_slots], [hits[s] / reads[s] * 100 for s in read_slots], color="#5a8f3c"
    )
    if result.scale_out_at:
        modulo_kept = (1 - result.moved_modulo / items) * 100
        hit_axis.hlines(modulo_kept, result.scale_out_at, result.scale_out_at + 4, colors="#888888", linestyles=":")
        hit_axis.annotate(
            f"hash % n would keep {modulo_kept:.0f}% of keys warm",
            (result.scale_out_at + 4.5, modulo_kept),
            fontsize=8,
            va="center",
            color="#555555",
        )
    hit_axis.set_ylabel("cache hit rate %")
    hit_axis.set_ylim(0, 105)
    hit_axis.set_xlabel("seconds")
    for axis in (rate_axis, hit_axis):
        axis.grid(alpha=0.3)
        for at, label in ((result.scale_out_at, "node added"), (result.kill_at, "worker killed")):
            if at:
                axis.axvline(at, color="#b5452f", linestyle="--", linewidth=1)
                if axis is rate_axis:
                    axis.annotate(label, (at, 0.95), xycoords=("data", "axes fraction"), fontsize=8, ha="left")
    figure.suptitle("The local system under the demo scenario")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


async def run_demo(options: Options, config: ScenarioConfig | None = None) -> int:
    """Start the system, run the scenario with a live display, print the summary, stop."""
    config = config or ScenarioConfig()
    console = Console()
    system = LocalSystem(options, report=lambda message: console.print(f"[yellow]{message}"))
    with console.status("starting the queue, database, web nodes, balancer, workers and scheduler..."):
        try:
            await system.start()
        except StartupError as error:
            console.print(f"error: {error}")
            await system.stop()
            return 1
    console.print(
        f"ready on {system.url}: {options.nodes} web nodes, {options.workers} workers "
        f"(try it: curl {system.url}/items/item-1; logs in {system.logs})"
    )
    console.print(f"console: {system.console_url}  (open it to watch the scenario live)")
    tasks: dict[str, TaskID] = {}
    try:
        with Progress(
            TextColumn("{task.description:<24}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:

            def advance(phase: str, done: int, total: int) -> None:
                if phase not in tasks:
                    tasks[phase] = progress.add_task(phase, total=total)
                progress.update(tasks[phase], completed=done, total=total)

            result = await run_scenario(system.url, config, advance)
    finally:
        with console.status("stopping every process..."):
            await system.stop()
    console.print(summary(result, config.items))
    console.print(f"chart: {draw_chart(result, config.items, CHART)}")
    return 0
