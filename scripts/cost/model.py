"""The estimate's vocabulary: a template resource, a priced line, and the error for what cannot be priced."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

GROUPS: Final = (
    "compute",
    "database",
    "cache",
    "network",
    "data transfer",
    "edge",
    "messaging",
    "observability",
    "security",
    "storage",
)
"""The groups of the report, in the order it lists them."""

_CDK_HASH = re.compile(r"(?<=.)[0-9A-F]{8}$")


class CostError(ValueError):
    """A template value the estimate cannot price; the message is one line naming the resource and the value."""


@dataclass(frozen=True)
class Resource:
    """One resource of a synthesized template, with the stack and region it is deployed to."""

    stack: str
    region: str
    logical_id: str
    type: str
    properties: Mapping[str, Any]
    metadata: Mapping[str, Any]
    label: str
    """How the report names it: the stack's distinguishing part and the logical ID without CDK's hash."""

    def get(self, name: str, default: Any = None) -> Any:
        """A property of the resource."""
        return self.properties.get(name, default)

    def number(self, name: str, default: float | None = None) -> float:
        """A numeric property (CloudFormation often writes numbers as strings); CostError if it is not a literal."""
        value = self.properties.get(name, default)
        if value is None:
            raise CostError(f"{self.label} ({self.type}) has no {name}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise CostError(
                f"{self.label} ({self.type}): {name} is not a number the estimate can read: {value!r}"
            ) from None


def resource_label(stack_part: str, logical_id: str) -> str:
    """``Compute/WebFleetGroupASG`` for the logical ID ``WebFleetGroupASG98D0CB4F`` in the stack part ``Compute``."""
    return f"{stack_part}/{_CDK_HASH.sub('', logical_id)}"


@dataclass(frozen=True)
class Line:
    """One priced item of the estimate: what it is, and what it costs a month at the baseline and at the ceiling.

    The baseline is the stated operating point (Auto Scaling groups at their desired or minimum
    size, Aurora at its minimum capacity, the traffic assumptions); the ceiling is every range at
    its maximum with the same traffic.
    """

    group: str
    resource: str
    type: str
    region: str
    item: str
    monthly: float
    ceiling: float

    def scaled(self, factor: float) -> Line:
        """The same line with both amounts multiplied by ``factor`` (a region's price ratio)."""
        return Line(
            self.group, self.resource, self.type, self.region, self.item, self.monthly * factor, self.ceiling * factor
        )


def line(resource: Resource, group: str, item: str, monthly: float, ceiling: float | None = None) -> Line:
    """A line for ``resource``; ``ceiling`` defaults to ``monthly`` (a fixed cost)."""
    assert group in GROUPS, group
    return Line(
        group, resource.label, resource.type, resource.region, item, monthly, monthly if ceiling is None else ceiling
    )


def qty(value: float) -> str:
    """A quantity for people: ``3``, ``2.21``, ``0.052``, ``1,200,000``."""
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"
