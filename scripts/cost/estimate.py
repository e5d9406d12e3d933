"""The estimate: every resource of the deployment priced, or counted as free with its reason, or named as unpriced."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from cost.deployment import Deployment
from cost.free import free_reason
from cost.model import GROUPS, Line
from cost.pricers import PRICERS
from cost.prices import REGION, REGION_FACTORS


@dataclass(frozen=True)
class Estimate:
    """The priced lines, the free resources by type (count, reason), the unpriced types, and notes for people."""

    lines: list[Line]
    free: dict[str, tuple[int, str]]
    unpriced: dict[str, int]
    regions: list[str]
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        """USD a month at the baseline."""
        return sum(line.monthly for line in self.lines)

    @property
    def ceiling(self) -> float:
        """USD a month with every range at its maximum."""
        return sum(line.ceiling for line in self.lines)

    def by_group(self) -> dict[str, tuple[float, float]]:
        """(baseline, ceiling) per group, in the report's order, for the groups that have lines."""
        sums = dict.fromkeys(GROUPS, (0.0, 0.0))
        for line in self.lines:
            monthly, ceiling = sums[line.group]
            sums[line.group] = (monthly + line.monthly, ceiling + line.ceiling)
        return {group: sums[group] for group in GROUPS if any(line.group == group for line in self.lines)}

    def by_region(self) -> dict[str, float]:
        """USD a month at the baseline per region."""
        return {region: sum(line.monthly for line in self.lines if line.region == region) for region in self.regions}


def estimate(deployment: Deployment) -> Estimate:
    """Price every resource of ``deployment`` at its region's prices."""
    lines: list[Line] = []
    free: Counter[str] = Counter()
    unpriced: Counter[str] = Counter()
    for resource in deployment.resources:
        pricers = PRICERS.get(resource.type)
        if pricers:
            lines.extend(line for pricer in pricers for line in pricer(resource, deployment))
        elif free_reason(resource.type) is not None:
            free[resource.type] += 1
        else:
            unpriced[resource.type] += 1
    notes = []
    for region in deployment.regions:
        if region not in REGION_FACTORS:
            notes.append(f"no price ratio for {region} in scripts/cost/prices.py: priced at {REGION} prices")
    factors = {region: REGION_FACTORS.get(region, 1.0) for region in deployment.regions}
    lines = [line.scaled(factors[line.region]) for line in lines]
    lines.sort(key=lambda line: (GROUPS.index(line.group), line.region, line.resource))
    if unpriced:
        notes.append(
            "not priced, so not in the total: "
            + ", ".join(f"{kind} ({count})" for kind, count in sorted(unpriced.items()))
            + " -- add them to scripts/cost (a pricer, or a reason in free.py)"
        )
    return Estimate(
        lines=lines,
        free={kind: (count, str(free_reason(kind))) for kind, count in sorted(free.items())},
        unpriced=dict(sorted(unpriced.items())),
        regions=list(deployment.regions),
        notes=notes,
    )
