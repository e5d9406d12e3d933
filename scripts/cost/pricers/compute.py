"""EC2 instances and their EBS volumes, per Auto Scaling group: the baseline size, and the maximum as the ceiling."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from cost import prices
from cost.deployment import Deployment, Pricer
from cost.fleets import Fleet, fleet_of
from cost.model import CostError, Line, Resource, line, qty

BURSTABLE: Final = re.compile(r"^t\d")
AMI_ROOT_VOLUME: Final = {"VolumeSize": 8, "VolumeType": "gp3"}
"""An Amazon Linux 2023 AMI's root volume, used when the launch template maps no volume."""


def auto_scaling_group(group: Resource, deployment: Deployment) -> list[Line]:
    """The group's instances at its baseline size (ceiling: its maximum) and the volumes each one carries."""
    fleet = fleet_of(group, deployment)
    hourly = prices.EC2.hourly(fleet.instance_type)
    if hourly is None:
        raise CostError(
            f"{group.label}: no price for the instance type {fleet.instance_type} in scripts/cost/prices.py (EC2)"
        )
    per_instance = hourly * prices.HOURS_PER_MONTH
    burstable = "; burstable: CPU above its baseline is extra" if BURSTABLE.match(fleet.instance_type) else ""
    schedule = f"; {fleet.schedule}" if fleet.schedule else ""
    lines = [
        line(
            group,
            "compute",
            f"{qty(fleet.baseline)} x {fleet.instance_type} at ${hourly}/h ({fleet.sizes}{schedule}{burstable})",
            per_instance * fleet.baseline,
            per_instance * fleet.max_size,
        )
    ]
    for device, volume in _volumes(fleet):
        per_volume, what = volume_month(volume)
        lines.append(
            line(
                group,
                "compute",
                f"{qty(fleet.baseline)} x EBS {what} ({device})",
                per_volume * fleet.baseline,
                per_volume * fleet.max_size,
            )
        )
    return lines


def _volumes(fleet: Fleet) -> list[tuple[str, Mapping[str, Any]]]:
    mappings = fleet.launch_data.get("BlockDeviceMappings") or []
    volumes = [(m.get("DeviceName", "?"), m["Ebs"]) for m in mappings if "Ebs" in m]
    return volumes or [("AMI root volume, assumed", AMI_ROOT_VOLUME)]


def volume_month(volume: Mapping[str, Any]) -> tuple[float, str]:
    """The monthly price of one EBS volume of a launch template, and what it is (``gp3 16 GiB``)."""
    kind = str(volume.get("VolumeType", "gp3"))
    if kind not in prices.EBS_GB_MONTH:
        raise CostError(f"no price for the EBS volume type {kind} in scripts/cost/prices.py")
    size = float(volume.get("VolumeSize", AMI_ROOT_VOLUME["VolumeSize"]))
    month = size * prices.EBS_GB_MONTH[kind]
    what = f"{kind} {qty(size)} GiB"
    iops, throughput = float(volume.get("Iops", 0)), float(volume.get("Throughput", 0))
    if kind == "gp3":
        month += max(0.0, iops - prices.EBS_GP3_FREE_IOPS) * prices.EBS_GP3_IOPS_MONTH
        month += max(0.0, throughput - prices.EBS_GP3_FREE_MBPS) * prices.EBS_GP3_MBPS_MONTH
    elif kind in ("io1", "io2"):
        month += iops * prices.EBS_PIOPS_MONTH
    if iops:
        what += f", {qty(iops)} IOPS"
    return month, what


PRICERS: Final[dict[str, list[Pricer]]] = {"AWS::AutoScaling::AutoScalingGroup": [auto_scaling_group]}
