"""The inventory of acknowledged validation findings, pinned: a new or broadened acknowledgement fails here.

cdk-nag reports nothing (tests/infra/test_app.py) only because of these acknowledgements, so each is
pinned to the exact construct and rule it covers. Moving one up the tree (it would then cover the
children too), dropping the ``[...]`` that narrows a rule to one finding, or adding one, must change
this list on purpose, with its reason reviewed.
"""

from __future__ import annotations

import aws_cdk as cdk

import app as cdk_app
from stacks.nag import acknowledge
from tests.infra.conftest import CDK_JSON_CONTEXT, Synthesized

FLEET_ROLE_POLICY = "arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore"
WORKER_GROUP_ARN = (
    "arn:<AWS::Partition>:autoscaling:<AWS::Region>:<AWS::AccountId>:autoScalingGroup:*:"
    "autoScalingGroupName/<WorkerFleetGroupASG7BF6B05F>"
)
EVERY_STAGE = {
    ("Compute/CallerAuth/Pool", "Annotation::AwsSolutions-COG8"),
    ("Compute/PeerKey/Secret", "Annotation::AwsSolutions-SMG4"),
    ("Compute/LoadBalancer/AccessLogs", "Annotation::AwsSolutions-S1"),
    ("Compute/LoadBalancer/SecurityGroup", "Annotation::AwsSolutions-EC23"),
    ("Compute/WebFleet/Group", "Annotation::AwsSolutions-AS3"),
    ("Compute/WebFleet/Role", f"Annotation::AwsSolutions-IAM4[Policy::{FLEET_ROLE_POLICY}]"),
    ("Compute/WebFleet/Role/AgentPolicy", "Annotation::AwsSolutions-IAM5[Resource::*]"),
    ("Compute/WebFleet/Role/DiscoveryPolicy", "Annotation::AwsSolutions-IAM5[Resource::*]"),
    ("Compute/WorkerDrainPolicy", f"Annotation::AwsSolutions-IAM5[Resource::{WORKER_GROUP_ARN}]"),
    ("Compute/WorkerFleet/Group", "Annotation::AwsSolutions-AS3"),
    ("Compute/WorkerFleet/Role", f"Annotation::AwsSolutions-IAM4[Policy::{FLEET_ROLE_POLICY}]"),
    ("Compute/WorkerFleet/Role/AgentPolicy", "Annotation::AwsSolutions-IAM5[Resource::*]"),
    ("Data/Cache/AuthToken", "Annotation::AwsSolutions-SMG4"),
    # aws-cdk-lib's own, on the VPC flow log (camelCase DestinationOptions), not this project's.
    ("Network/Network/Vpc/FlowLog", "CloudFormation-Validate::F3002"),
    ("Network/Network/Vpc/FlowLog", "CloudFormation-Validate::F3003"),
}
UNPROTECTED_DATA = {("Data/Database/Cluster", "Annotation::AwsSolutions-RDS10")}
SINGLE_ZONE_CACHE = {("Data/Cache/ReplicationGroup", "Annotation::AwsSolutions-AEC4")}
MYSQL = {("Data/Database/Cluster", "Annotation::AwsSolutions-RDS14")}
EXPECTED = {
    "dev": EVERY_STAGE | UNPROTECTED_DATA | SINGLE_ZONE_CACHE,
    "prod": EVERY_STAGE,
    "mysql": EVERY_STAGE | UNPROTECTED_DATA | SINGLE_ZONE_CACHE | MYSQL,
}
"""Per configuration of tests/infra/conftest.py: (construct path below ``ScaledRef-<stage>-``, rule)."""


def acknowledgements(app: cdk.App, stage: str) -> dict[tuple[str, str], str]:
    """Every acknowledgement recorded in the app's construct tree: (path below the stage prefix, rule) → reason."""
    prefix = f"ScaledRef-{stage}-"
    found: dict[tuple[str, str], str] = {}
    for construct in app.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                for rule, reason in entry.data.items():
                    found[(construct.node.path.removeprefix(prefix), rule)] = reason
    return found


def test_the_acknowledged_findings_are_exactly_the_pinned_ones(config: Synthesized) -> None:
    found = acknowledgements(config.app, config.deployment.settings.stage)
    assert set(found) == EXPECTED[config.name]


def test_every_acknowledgement_gives_its_reason(config: Synthesized) -> None:
    found = acknowledgements(config.app, config.deployment.settings.stage)
    short = {key: reason for key, reason in found.items() if len(reason.split()) < 8}
    assert short == {}, "a reason says why the finding is acceptable here, in a sentence"


def test_a_broadened_acknowledgement_changes_the_inventory() -> None:
    app = cdk.App(context={**CDK_JSON_CONTEXT, "stage": "dev"})
    deployment = cdk_app.build(app, environ={})
    assert set(acknowledgements(app, "dev")) == EXPECTED["dev"]
    # The same rule acknowledged for the whole stack instead of one policy (what the pin is for).
    acknowledge(deployment.compute, "AwsSolutions-IAM5[Resource::*]", "would hide every IAM5 finding of the stack")
    assert set(acknowledgements(app, "dev")) - EXPECTED["dev"] == {
        ("Compute", "Annotation::AwsSolutions-IAM5[Resource::*]")
    }
