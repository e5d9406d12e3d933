"""The network stack: the VPC every other stack lives in."""

from __future__ import annotations

from aws_cdk import Environment, Fn, Stack
from constructs import Construct

from stacks.constructs.network import Network
from stacks.policies import log_retention, removal_policy
from stacks.settings import Settings


class NetworkStack(Stack):
    """The VPC (:class:`~stacks.constructs.network.Network`) across ``network.max_azs`` zones."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings, env: Environment | None) -> None:
        self._zone_count = settings.network.max_azs
        super().__init__(scope, construct_id, env=env, description=f"VPC, subnets, NAT, endpoints ({settings.stage})")
        self.network = Network(
            self,
            "Network",
            settings=settings.network,
            log_retention=log_retention(settings.observability.log_retention_days),
            removal_policy=removal_policy(settings.protect_data),
        )

    @property
    def availability_zones(self) -> list[str]:
        """The region's first zones, resolved by CloudFormation (``Fn::GetAZs``) at deploy time.

        CDK would otherwise offer only two zones to an environment-agnostic stack, and look the
        zones up (with credentials) for an environment-specific one; this needs neither.
        """
        return [Fn.select(index, Fn.get_azs()) for index in range(self._zone_count)]
