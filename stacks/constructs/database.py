"""Aurora Serverless v2: the source of truth, a writer with readers in other zones."""

from __future__ import annotations

from typing import Final

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from stacks.constructs.security_group import closed_security_group
from stacks.context_types import AuroraEngine
from stacks.nag import acknowledge
from stacks.policies import removal_policy
from stacks.settings import DatabaseSettings

ENGINES: Final[dict[AuroraEngine, rds.IClusterEngine]] = {
    "aurora-postgresql": rds.DatabaseClusterEngine.aurora_postgres(version=rds.AuroraPostgresEngineVersion.VER_17_5),
    "aurora-mysql": rds.DatabaseClusterEngine.aurora_mysql(version=rds.AuroraMysqlEngineVersion.VER_3_10_0),
}
LOG_EXPORTS: Final[dict[AuroraEngine, list[str]]] = {
    "aurora-postgresql": ["postgresql"],
    "aurora-mysql": ["error", "slowquery"],
}
TLS_REQUIRED: Final[dict[AuroraEngine, dict[str, str]]] = {
    "aurora-postgresql": {"rds.force_ssl": "1"},
    "aurora-mysql": {"require_secure_transport": "ON"},
}
"""Cluster parameters that refuse unencrypted connections: encryption in transit, enforced by the server."""
DATABASE_NAME: Final = "app"
ADMIN_USER: Final = "app_admin"
BACKUP_WINDOW: Final = "01:00-02:00"
"""UTC, before the off-peak precompute job (03:00 by default) and the maintenance window."""
MAINTENANCE_WINDOW: Final = "sun:04:30-sun:05:30"


class Database(Construct):
    """An Aurora cluster (PostgreSQL or MySQL) with one writer and ``readers`` readers.

    The writer is placed in the first zone and the readers in the following ones, so a zone
    outage promotes a reader (the master → replica backup). Storage is encrypted, connections
    must use TLS (a cluster parameter the server enforces), the admin
    password lives in a Secrets Manager secret that RDS itself rotates (no rotation function to
    run), automated backups are kept ``backup_retention_days``, and with ``protect`` the cluster
    has deletion protection and leaves a snapshot when removed from the stack.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        settings: DatabaseSettings,
        protect: bool,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self.port = settings.port
        self.security_group = closed_security_group(
            self, vpc, "Aurora: inbound on the database port from the web and worker fleets only"
        )
        zones = vpc.availability_zones
        # A fixed identifier fixes the log groups' names, so they are created here with their
        # retention (instead of by RDS, which would need CDK's log-retention Lambda function).
        identifier = f"{Stack.of(self).stack_name}-aurora".lower()
        self.log_groups = [
            logs.LogGroup(
                self,
                f"Logs{export.capitalize()}",
                log_group_name=f"/aws/rds/cluster/{identifier}/{export}",
                retention=log_retention,
                removal_policy=removal_policy(protect),
            )
            for export in LOG_EXPORTS[settings.engine]
        ]
        self.parameters = rds.ParameterGroup(
            self,
            "Parameters",
            engine=ENGINES[settings.engine],
            description="Aurora cluster parameters: connections must use TLS",
            parameters=TLS_REQUIRED[settings.engine],
        )
        self.cluster = rds.DatabaseCluster(
            self,
            "Cluster",
            engine=ENGINES[settings.engine],
            parameter_group=self.parameters,
            port=settings.port,
            vpc=vpc,
            vpc_subnets=subnets,
            security_groups=[self.security_group],
            writer=rds.ClusterInstance.serverless_v2("Writer", availability_zone=zones[0]),
            readers=[
                rds.ClusterInstance.serverless_v2(
                    f"Reader{number}", scale_with_writer=number == 1, availability_zone=zones[number % len(zones)]
                )
                for number in range(1, settings.readers + 1)
            ],
            serverless_v2_min_capacity=settings.min_capacity,
            serverless_v2_max_capacity=settings.max_capacity,
            credentials=rds.Credentials.from_username(ADMIN_USER),
            manage_master_user_password=True,
            default_database_name=DATABASE_NAME,
            storage_encrypted=True,
            iam_authentication=True,
            deletion_protection=protect,
            removal_policy=RemovalPolicy.SNAPSHOT if protect else RemovalPolicy.DESTROY,
            backup=rds.BackupProps(
                retention=Duration.days(settings.backup_retention_days), preferred_window=BACKUP_WINDOW
            ),
            preferred_maintenance_window=MAINTENANCE_WINDOW,
            cloudwatch_logs_exports=LOG_EXPORTS[settings.engine],
            cluster_identifier=identifier,
            copy_tags_to_snapshot=True,
        )
        for log_group in self.log_groups:
            self.cluster.node.add_dependency(log_group)
        if not protect:
            acknowledge(
                self.cluster,
                "AwsSolutions-RDS10",
                "Unprotected stages (dev) must be removable by make destroy; prod turns deletion protection on.",
            )
        if settings.engine == "aurora-mysql":
            acknowledge(
                self.cluster,
                "AwsSolutions-RDS14",
                "Backtrack can only be chosen when a cluster is created and is missing in several regions, "
                "which a region-agnostic template cannot know; point-in-time restore from the automated "
                "backups covers recovery.",
            )

    @property
    def secret(self) -> secretsmanager.ISecret:
        """The admin credentials (JSON with ``username`` and ``password``), rotated by RDS."""
        secret = self.cluster.secret
        assert secret is not None, "manage_master_user_password always creates the secret"
        return secret

    @property
    def connections(self) -> ec2.Connections:
        """Allow a fleet in with ``fleet.connections.allow_to(database.connections, ...)``."""
        return self.cluster.connections

    def metric(self, name: str, statistic: str = "Average") -> cloudwatch.Metric:
        """A cluster-level AWS/RDS metric such as ``CPUUtilization`` or ``DatabaseConnections``."""
        return self.cluster.metric(name, statistic=statistic, period=Duration.minutes(1))
