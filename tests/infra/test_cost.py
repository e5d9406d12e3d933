"""The cost estimate of the real templates: every resource of dev and prod priced or free, and docs/cost.md current.

The stages are synthesized with the context ``make cost`` uses (placeholders included), reusing
the session's synthesis when that context is the one tests/infra/conftest.py already built.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cost import docs
from cost.estimate import Estimate
from cost.free import free_reason
from cost.pricers import PRICERS
from cost.pricers.observability import METRIC_LABEL_VALUES
from cost.synth import plan

from stacks.constructs.service_metrics import ITEM_READ_TIERS
from stacks.context import KEYS
from tests.infra.conftest import CONFIGS, Synthesized, synthesize

STAGES = ("dev", "prod")


@pytest.fixture(scope="module")
def assemblies(synthesized: Callable[[str], Synthesized], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each stage's cloud assembly, synthesized with the context of ``make cost``."""
    found = {}
    for stage in STAGES:
        context = plan(stage, [], "", KEYS).context
        synth = (
            synthesized(stage)
            if context == CONFIGS[stage]
            else synthesize(f"cost-{stage}", context, tmp_path_factory.mktemp(f"cost-{stage}"))
        )
        found[stage] = Path(synth.assembly.directory)
    return found


@pytest.fixture(scope="module")
def estimates(assemblies: dict[str, Path]) -> dict[str, Estimate]:
    """Each stage's estimate at its default assumptions."""
    return {stage: docs.stage_estimate(stage, assemblies[stage]) for stage in STAGES}


@pytest.mark.parametrize("stage", STAGES)
def test_every_resource_type_is_priced_or_free_with_a_reason(stage: str, estimates: dict[str, Estimate]) -> None:
    result = estimates[stage]
    assert result.unpriced == {}, (
        f"add these types to scripts/cost (a pricer or a reason in free.py): {result.unpriced}"
    )
    priced = {line.type for line in result.lines}
    for resource_type in result.free:
        assert resource_type not in PRICERS
        assert free_reason(resource_type)
    assert {
        "AWS::AutoScaling::AutoScalingGroup",
        "AWS::RDS::DBInstance",
        "AWS::ElastiCache::ReplicationGroup",
    } <= priced


@pytest.mark.parametrize("stage", STAGES)
def test_every_log_group_and_bucket_has_a_writer_the_estimate_knows(stage: str, estimates: dict[str, Estimate]) -> None:
    unknown = [line.resource for line in estimates[stage].lines if "no writer known" in line.item]
    assert unknown == []


@pytest.mark.parametrize("stage", STAGES)
def test_both_fleets_are_priced_between_their_minimum_and_their_maximum(
    stage: str, estimates: dict[str, Estimate]
) -> None:
    instances = [line for line in estimates[stage].lines if line.group == "compute" and " x EBS " not in line.item]
    assert len(instances) == 2
    for line in instances:
        assert 0 < line.monthly < line.ceiling
    assert estimates[stage].total < estimates[stage].ceiling


def test_prod_costs_more_than_dev(estimates: dict[str, Estimate]) -> None:
    assert estimates["prod"].total > 2 * estimates["dev"].total


def test_docs_cost_md_is_what_the_tool_says_of_the_templates(estimates: dict[str, Estimate]) -> None:
    assert docs.OUTPUT.read_text() == docs.render(estimates), "docs/cost.md is stale: run make docs and commit it"


def test_the_metric_dimension_values_match_the_services_item_read_tiers() -> None:
    assert METRIC_LABEL_VALUES["tier"] == len(ITEM_READ_TIERS)
