"""The estimate for people (a rich table ending with the ``total:`` line) and for programs (results/cost.json)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from cost import prices
from cost.assumptions import HEADLINE, Assumptions
from cost.estimate import Estimate


@dataclass(frozen=True)
class Run:
    """What was priced and how: the stage, the assumptions, the synth command, its placeholders and notes."""

    stage: str
    assumptions: Assumptions
    synth: str
    placeholders: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def money(amount: float) -> str:
    """An amount in the table: ``1,050.26``."""
    return f"{amount:,.2f}"


def total_line(estimate: Estimate) -> str:
    """The last line of the output, which scripts read: ``total: 1050.26 USD/month``."""
    return f"total: {estimate.total:.2f} {prices.CURRENCY}/month"


def header(run: Run, estimate: Estimate) -> list[str]:
    """What the estimate is of, and under which prices and assumptions."""
    flags = ", ".join(
        f"{getattr(run.assumptions, name):g} {unit} (--{name.replace('_', '-')})" for name, unit in HEADLINE.items()
    )
    lines = [
        f"Monthly cost estimate of stage {run.stage} in {', '.join(estimate.regions)}",
        f"templates: {run.synth}",
    ]
    lines += [f"placeholder {key}: {why}" for key, why in run.placeholders.items()]
    lines += [f"note: {note}" for note in run.notes]
    lines += [
        f"prices: {prices.SOURCE}; free tiers not applied",
        f"traffic: {flags}; every assumption: python -m cost --help, docs/cost.md",
        "baseline: Auto Scaling groups at desired (or min) size with their schedules, Aurora at min ACU; "
        "ceiling: every group and Aurora at max",
    ]
    lines += [
        f"prices in {region}: {prices.REGION}'s x {prices.REGION_FACTORS[region]:.2f} (an approximate ratio)"
        for region in estimate.regions
        if prices.REGION_FACTORS.get(region, 1.0) != 1.0
    ]
    return lines


def table(estimate: Estimate) -> Table:
    """Every line, grouped, with each group's subtotal."""
    several = len(estimate.regions) > 1
    result = Table(show_lines=False, header_style="bold")
    result.add_column("group")
    if several:
        result.add_column("region")
    result.add_column("resource")
    result.add_column("priced as", overflow="fold")
    result.add_column(f"{prices.CURRENCY}/month", justify="right")
    result.add_column("ceiling", justify="right")
    for group, (monthly, ceiling) in estimate.by_group().items():
        for i, line in enumerate(line for line in estimate.lines if line.group == group):
            region = [line.region] if several else []
            name = group if i == 0 else ""
            result.add_row(name, *region, line.resource, line.item, money(line.monthly), money(line.ceiling))
        blank = [""] if several else []
        result.add_row(Text("subtotal", style="bold"), *blank, "", "", money(monthly), money(ceiling), end_section=True)
    return result


def show(console: Console, run: Run, estimate: Estimate) -> None:
    """Print the header, the table, the notes and the totals; the last line is :func:`total_line`."""
    for text in header(run, estimate):
        console.print(text, markup=False, highlight=False)
    console.print(table(estimate))
    free = sum(count for count, _ in estimate.free.values())
    console.print(
        f"free: {free} resources of {len(estimate.free)} types (reasons in results/cost.json, docs/cost.md)",
        highlight=False,
    )
    for note in estimate.notes:
        console.print(f"note: {note}", markup=False, style="bold red" if estimate.unpriced else None)
    if len(estimate.regions) > 1:
        for region, amount in estimate.by_region().items():
            console.print(f"{region}: {amount:.2f} {prices.CURRENCY}/month", highlight=False)
    console.print(f"ceiling: {estimate.ceiling:.2f} {prices.CURRENCY}/month", highlight=False)
    console.print(total_line(estimate), highlight=False)


def as_json(run: Run, estimate: Estimate) -> dict[str, Any]:
    """The estimate as results/cost.json: lines, groups, assumptions, prices' provenance, free and unpriced types."""
    return {
        "stage": run.stage,
        "regions": estimate.regions,
        "currency": prices.CURRENCY,
        "prices": {"region": prices.REGION, "compiled": prices.COMPILED, "source": prices.SOURCE},
        "synth": {"command": run.synth, "placeholders": run.placeholders},
        "assumptions": dataclasses.asdict(run.assumptions),
        "lines": [
            {**dataclasses.asdict(line), "monthly": round(line.monthly, 2), "ceiling": round(line.ceiling, 2)}
            for line in estimate.lines
        ],
        "groups": {g: {"monthly": round(m, 2), "ceiling": round(c, 2)} for g, (m, c) in estimate.by_group().items()},
        "free": [{"type": kind, "count": count, "reason": reason} for kind, (count, reason) in estimate.free.items()],
        "unpriced": estimate.unpriced,
        "notes": [*run.notes, *estimate.notes],
        "ceiling": round(estimate.ceiling, 2),
        "total": round(estimate.total, 2),
    }
