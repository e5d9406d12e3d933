"""ElastiCache (Redis or Valkey): the shared cache, with a replica, AUTH and encryption everywhere."""

from __future__ import annotations

from typing import Final

from aws_cdk import Duration, Fn, RemovalPolicy, SecretValue
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from stacks.constructs.security_group import closed_security_group
from stacks.context_types import CacheEngine
from stacks.nag import acknowledge
from stacks.policies import removal_policy
from stacks.settings import CacheSettings

ENGINE_VERSIONS: Final[dict[CacheEngine, str]] = {"redis": "7.1", "valkey": "8.1"}
SNAPSHOT_WINDOW: Final = "00:00-01:00"
"""UTC, clear of the database backup window and the off-peak precompute job."""
MAINTENANCE_WINDOW: Final = "sun:05:30-sun:06:30"


class Cache(Construct):
    """A cluster-mode-disabled replication group: one primary and ``replicas`` replicas.

    With a replica, automatic failover is on (the replica takes over from a failed primary);
    ``multi_az`` places it in another zone. Data is encrypted at rest and in transit (TLS
    required), clients authenticate with an AUTH token generated into Secrets Manager and
    passed to CloudFormation as a dynamic reference (never in the template), the port is
    not the default one, and daily snapshots are kept ``snapshot_retention_days``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        settings: CacheSettings,
        protect: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        self.port = settings.port
        self.members = 1 + settings.replicas
        self.security_group = closed_security_group(
            self, vpc, "ElastiCache: inbound on the cache port from the web and worker fleets only"
        )
        self.connections = ec2.Connections(
            security_groups=[self.security_group], default_port=ec2.Port.tcp(settings.port)
        )
        """Allow a fleet in with ``fleet.connections.allow_to(cache.connections, ...)``."""
        self.auth_token = secretsmanager.Secret(
            self,
            "AuthToken",
            description="AUTH token of the ElastiCache replication group",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                exclude_punctuation=True, include_space=False, password_length=64
            ),
            removal_policy=removal_policy(protect),
        )
        acknowledge(
            self.auth_token,
            "AwsSolutions-SMG4",
            (
                "An ElastiCache AUTH token is rotated with modify-replication-group --auth-token-update-strategy "
                "ROTATE then SET, which neither Secrets Manager's hosted rotations nor CloudFormation perform; "
                "the README's runbook describes the rotation."
            ),
        )
        subnet_group = elasticache.CfnSubnetGroup(
            self,
            "SubnetGroup",
            description="Isolated data subnets of the cache",
            subnet_ids=vpc.select_subnets(
                subnet_group_name=subnets.subnet_group_name, subnet_type=subnets.subnet_type
            ).subnet_ids,
        )
        self.replication_group = elasticache.CfnReplicationGroup(
            self,
            "ReplicationGroup",
            replication_group_description="Shared cache of the web and worker fleets",
            engine=settings.engine,
            engine_version=ENGINE_VERSIONS[settings.engine],
            cache_node_type=settings.node_type,
            num_cache_clusters=self.members,
            automatic_failover_enabled=settings.automatic_failover,
            multi_az_enabled=settings.multi_az,
            port=settings.port,
            cache_subnet_group_name=subnet_group.ref,
            security_group_ids=[self.security_group.security_group_id],
            at_rest_encryption_enabled=True,
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            auth_token=SecretValue.secrets_manager(self.auth_token.secret_arn).unsafe_unwrap(),
            snapshot_retention_limit=settings.snapshot_retention_days,
            snapshot_window=SNAPSHOT_WINDOW,
            preferred_maintenance_window=MAINTENANCE_WINDOW,
            auto_minor_version_upgrade=True,
        )
        self.replication_group.apply_removal_policy(RemovalPolicy.SNAPSHOT if protect else RemovalPolicy.DESTROY)
        if not settings.multi_az:
            acknowledge(
                self.replication_group,
                "AwsSolutions-AEC4",
                "The dev stage keeps the cache in one zone to save cost; prod turns cacheMultiAz on.",
            )

    @property
    def primary_endpoint(self) -> str:
        """Host name of the primary (writes); it follows a failover."""
        return self.replication_group.attr_primary_end_point_address

    @property
    def primary_port(self) -> str:
        """The primary's port, as the deployed group reports it (a reference, like the address)."""
        return self.replication_group.attr_primary_end_point_port

    @property
    def member_ids(self) -> list[str]:
        """The cache cluster IDs of the members (``<group>-001`` …), the dimension of their metrics."""
        return [Fn.join("-", [self.replication_group.ref, f"{number:03d}"]) for number in range(1, self.members + 1)]

    def metric(self, name: str, member: str, statistic: str = "Average") -> cloudwatch.Metric:
        """An AWS/ElastiCache metric of one member, such as ``DatabaseMemoryUsagePercentage``."""
        return cloudwatch.Metric(
            namespace="AWS/ElastiCache",
            metric_name=name,
            dimensions_map={"CacheClusterId": member},
            statistic=statistic,
            period=Duration.minutes(1),
        )
