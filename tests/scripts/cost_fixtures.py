"""Tiny hand-written templates for the cost tool's tests: each price can be checked with a calculator."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cost.assumptions import Assumptions
from cost.deployment import Deployment, Stack
from cost.estimate import Estimate, estimate
from cost.model import Line

STACK = "Test-Stack"

QUIET: dict[str, float] = {
    "requests_per_s": 0,
    "jobs_per_day": 0,
    "instance_log_mb_per_day": 0,
    "nat_gb_per_instance": 0,
}
"""Assumptions under which only the fixed (hourly and monthly) prices remain."""


def deployment(
    resources: dict[str, Any], region: str | None = None, assumptions: Mapping[str, float] | None = None
) -> Deployment:
    """One stack holding ``resources`` (logical ID -> resource), priced under ``assumptions``."""
    return Deployment([Stack(STACK, region, {"Resources": resources})], Assumptions(**(assumptions or {})), "us-east-1")


def lines(resources: dict[str, Any], logical_id: str, **assumptions: float) -> list[Line]:
    """The estimate's lines of one resource."""
    label = f"Stack/{logical_id}"
    return [line for line in estimate(deployment(resources, assumptions=assumptions)).lines if line.resource == label]


def run(resources: dict[str, Any], **assumptions: float) -> Estimate:
    """The estimate of one stack holding ``resources``."""
    return estimate(deployment(resources, assumptions=assumptions))


def web_group(
    *, min_size: int = 2, max_size: int = 4, instance_type: str = "m7g.large", metadata: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A web Auto Scaling group (behind a target group) and its launch template with a 10 GiB gp3 volume."""
    return {
        "Group": {
            "Type": "AWS::AutoScaling::AutoScalingGroup",
            "Properties": {
                "MinSize": str(min_size),
                "MaxSize": str(max_size),
                "LaunchTemplate": {"LaunchTemplateId": {"Ref": "Template"}, "Version": "1"},
                "TargetGroupARNs": [{"Ref": "Targets"}],
                "VPCZoneIdentifier": ["subnet-a", "subnet-b"],
            },
            "Metadata": metadata or {},
        },
        "Template": {
            "Type": "AWS::EC2::LaunchTemplate",
            "Properties": {
                "LaunchTemplateData": {
                    "InstanceType": instance_type,
                    "BlockDeviceMappings": [
                        {"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 10, "VolumeType": "gp3"}}
                    ],
                }
            },
        },
    }


def write_assembly(directory: Path, resources: dict[str, Any], region: str = "unknown-region") -> Path:
    """A cloud assembly (manifest.json and one template) as ``cdk synth`` writes it."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{STACK}.template.json").write_text(json.dumps({"Resources": resources}))
    manifest = {
        "version": "1",
        "artifacts": {
            STACK: {
                "type": "aws:cloudformation:stack",
                "environment": f"aws://unknown-account/{region}",
                "properties": {"templateFile": f"{STACK}.template.json"},
                "displayName": STACK,
            },
            "Tree": {"type": "cdk:tree"},
        },
    }
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return directory
