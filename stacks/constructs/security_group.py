"""Security groups that start closed: no inbound rule, and no outbound rule either."""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from constructs import Construct


def closed_security_group(scope: Construct, vpc: ec2.IVpc, description: str) -> ec2.SecurityGroup:
    """A security group ``SecurityGroup`` in ``scope`` that allows nothing until rules are added.

    ``connections.allow_to`` / ``allow_from`` then open exactly the ports a peer needs, in both
    directions, so every permitted flow is written down once.
    """
    return ec2.SecurityGroup(scope, "SecurityGroup", vpc=vpc, description=description, allow_all_outbound=False)
