"""The Auto Scaling groups as the estimate sees them: instance type, sizes, schedule, volumes and agent config.

The baseline size of a group is its desired capacity (its minimum when none is set), raised by
its scheduled actions for as long as they hold it larger: averaged over four weeks, so an
off-peak window of 75 minutes a day adds 75/1440 of the extra instances.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from croniter import croniter

from cost.deployment import referenced_ids, render
from cost.model import CostError, Resource

if TYPE_CHECKING:
    from cost.deployment import Deployment

AGENT_CONFIG_DIR: Final = "/opt/aws/amazon-cloudwatch-agent/etc/"
_WINDOW_START: Final = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday: four whole weeks from here
_WINDOW: Final = timedelta(days=28)


@dataclass(frozen=True)
class Fleet:
    """One Auto Scaling group and what its instances are launched with."""

    group: Resource
    instance_type: str
    min_size: int
    max_size: int
    desired: int | None
    baseline: float
    """Instances on average at the baseline point: desired (or min), with the scheduled actions."""
    schedule: str
    """The scheduled actions that change the size, for people (empty without any)."""
    zones: int
    serves_traffic: bool
    """Registered with a load balancer's target group (the web fleet); otherwise it consumes the queue."""
    launch_data: Mapping[str, Any]
    agent_config: Mapping[str, Any] | None
    """The CloudWatch agent's JSON configuration that cfn-init writes on the instances, if any."""

    @property
    def sizes(self) -> str:
        """``min 3 / desired 3 / max 12`` (desired ``-`` when the template leaves it to the group)."""
        desired = "-" if self.desired is None else str(self.desired)
        return f"min {self.min_size} / desired {desired} / max {self.max_size}"


def fleets(deployment: Deployment) -> list[Fleet]:
    """Every Auto Scaling group of the deployment (read once per deployment)."""
    return deployment.memo(
        "fleets",
        lambda: [_fleet(group, deployment) for group in deployment.of_type("AWS::AutoScaling::AutoScalingGroup")],
    )


def fleet_of(group: Resource, deployment: Deployment) -> Fleet:
    """The fleet of the Auto Scaling group ``group``."""
    (found,) = [fleet for fleet in fleets(deployment) if fleet.group == group]
    return found


def _fleet(group: Resource, deployment: Deployment) -> Fleet:
    min_size, max_size = int(group.number("MinSize")), int(group.number("MaxSize"))
    desired = None if group.get("DesiredCapacity") is None else int(group.number("DesiredCapacity"))
    launch_data = _launch_data(group, deployment)
    instance_type = launch_data.get("InstanceType")
    if not isinstance(instance_type, str):
        raise CostError(f"{group.label}: the instance type is not a literal in the template: {instance_type!r}")
    actions = [
        action
        for action in deployment.of_type("AWS::AutoScaling::ScheduledAction")
        if action.stack == group.stack and group.logical_id in referenced_ids(action.get("AutoScalingGroupName"))
    ]
    base = float(min_size if desired is None else desired)
    baseline, schedule = scheduled_average(base, actions)
    return Fleet(
        group=group,
        instance_type=instance_type,
        min_size=min_size,
        max_size=max_size,
        desired=desired,
        baseline=min(max(baseline, min_size), max_size),
        schedule=schedule,
        zones=max(1, len(group.get("VPCZoneIdentifier") or group.get("AvailabilityZones") or [])),
        serves_traffic=bool(group.get("TargetGroupARNs") or group.get("LoadBalancerNames")),
        launch_data=launch_data,
        agent_config=agent_config(group),
    )


def _launch_data(group: Resource, deployment: Deployment) -> Mapping[str, Any]:
    """What instances of ``group`` are launched with (a launch template's data, or a launch configuration)."""
    if group.get("MixedInstancesPolicy"):
        raise CostError(f"{group.label}: a mixed-instances policy is not priced by this tool")
    spec = group.get("LaunchTemplate")
    if spec:
        template = deployment.target(group, spec.get("LaunchTemplateId") or spec.get("LaunchTemplateName"))
        if template is None:
            raise CostError(f"{group.label}: its launch template is not in the same stack")
        data: Mapping[str, Any] = template.get("LaunchTemplateData", {})
        return data
    configuration = deployment.target(group, group.get("LaunchConfigurationName"))
    if configuration is None:
        raise CostError(f"{group.label}: neither a launch template nor a launch configuration in the same stack")
    return configuration.properties


def scheduled_average(base: float, actions: list[Resource]) -> tuple[float, str]:
    """The group's average size over four weeks when ``actions`` set its size, and how they do it.

    Each action sets the size to the larger of its MinSize and DesiredCapacity (the scaling
    policies take a group back down once an action lowers its minimum); the group starts at
    ``base``. An action without a recurrence (a one-off) is left out. Times are read as UTC: a
    time zone moves the window, not its length.
    """
    events: list[tuple[datetime, float]] = []
    described = []
    for action in actions:
        recurrence = action.get("Recurrence")
        sizes = [action.number(key) for key in ("MinSize", "DesiredCapacity") if action.get(key) is not None]
        if not isinstance(recurrence, str) or not sizes:
            continue
        if not croniter.is_valid(recurrence):
            raise CostError(f"{action.label}: Recurrence is not a cron expression: {recurrence!r}")
        described.append(f"{max(sizes):g} at '{recurrence}'")
        times = croniter(recurrence, _WINDOW_START - timedelta(days=7))
        while (at := times.get_next(datetime)) < _WINDOW_START + _WINDOW:
            events.append((at, max(sizes)))
    if not events:
        return base, ""
    events.sort()
    size, since, area = base, _WINDOW_START, 0.0
    for at, new_size in events:
        if at > _WINDOW_START:
            area += size * (at - since).total_seconds()
            since = at
        size = new_size
    area += size * (_WINDOW_START + _WINDOW - since).total_seconds()
    return area / _WINDOW.total_seconds(), "scheduled: " + ", ".join(described)


def agent_config(group: Resource) -> Mapping[str, Any] | None:
    """The CloudWatch agent configuration among the group's cfn-init files, parsed (references as ``{ref:Id}``)."""
    init = group.metadata.get("AWS::CloudFormation::Init", {})
    for name, config in init.items():
        if name == "configSets" or not isinstance(config, dict):
            continue
        for path, file in config.get("files", {}).items():
            if path.startswith(AGENT_CONFIG_DIR) and path.endswith(".json"):
                try:
                    parsed: Mapping[str, Any] = json.loads(render(file.get("content", "")))
                except json.JSONDecodeError as error:
                    raise CostError(f"{group.label}: the CloudWatch agent config {path} is not JSON: {error}") from None
                return parsed
    return None
