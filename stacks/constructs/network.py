"""The network: a VPC with three tiers of subnets in every zone, flow logs and VPC endpoints."""

from __future__ import annotations

from typing import Final

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.settings import NetworkSettings

PUBLIC: Final = "public"
"""Subnets of the internet-facing load balancer (and the NAT gateways)."""
APP: Final = "app"
"""Private subnets of the instances; outbound traffic leaves through NAT."""
DATA: Final = "data"
"""Isolated subnets of Aurora and ElastiCache: no route to or from the internet."""

INTERFACE_ENDPOINTS: Final = {
    "Sqs": ec2.InterfaceVpcEndpointAwsService.SQS,
    "Ssm": ec2.InterfaceVpcEndpointAwsService.SSM,
    "SecretsManager": ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
    "Logs": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
}
"""The AWS APIs the instances call most, reachable without NAT when ``interface_endpoints`` is on."""


class Network(Construct):
    """A VPC across ``max_azs`` zones with public, app and data subnets.

    S3 is reached through a gateway endpoint (free); the interface endpoints of
    :data:`INTERFACE_ENDPOINTS` are optional because each costs per zone and hour.
    All traffic is recorded by a VPC flow log in CloudWatch Logs.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: NetworkSettings,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(settings.cidr),
            max_azs=settings.max_azs,
            nat_gateways=settings.nat_gateways,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name=PUBLIC, subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=settings.edge_subnet_mask
                ),
                ec2.SubnetConfiguration(
                    name=APP, subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=settings.app_subnet_mask
                ),
                ec2.SubnetConfiguration(
                    name=DATA, subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=settings.edge_subnet_mask
                ),
            ],
            gateway_endpoints={"S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)},
        )
        self.flow_logs = logs.LogGroup(self, "FlowLogs", retention=log_retention, removal_policy=removal_policy)
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(self.flow_logs),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )
        self.interface_endpoints: dict[str, ec2.InterfaceVpcEndpoint] = {}
        for name, service in INTERFACE_ENDPOINTS.items() if settings.interface_endpoints else ():
            endpoint = self.vpc.add_interface_endpoint(
                name, service=service, subnets=self.app_subnets, private_dns_enabled=True, open=False
            )
            # The literal range (not the VPC's CidrBlock attribute) keeps the rule checkable at synth.
            endpoint.connections.allow_from(ec2.Peer.ipv4(settings.cidr), ec2.Port.tcp(443), "HTTPS from the VPC")
            self.interface_endpoints[name] = endpoint

    @property
    def public_subnets(self) -> ec2.SubnetSelection:
        """Where the load balancer lives."""
        return ec2.SubnetSelection(subnet_group_name=PUBLIC)

    @property
    def app_subnets(self) -> ec2.SubnetSelection:
        """Where the instances live."""
        return ec2.SubnetSelection(subnet_group_name=APP)

    @property
    def data_subnets(self) -> ec2.SubnetSelection:
        """Where Aurora and ElastiCache live."""
        return ec2.SubnetSelection(subnet_group_name=DATA)
