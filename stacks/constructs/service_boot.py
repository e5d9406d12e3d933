"""How an instance boots its service: cfn-init installs the code, writes its configuration, starts it.

Each fleet's :data:`~stacks.constructs.fleet.BootPlan` (from :meth:`ServiceBoot.plan`) turns
the files under ``deploy/`` into CloudFormationInit metadata on its Auto Scaling group. The
user data runs cfn-init, then cfn-signal with its result; the group's CreationPolicy and
rolling updates wait for those signals. Two config sets run in order:

``install``
    packages (Python 3.11, the CloudWatch agent, logrotate); the ``services`` and
    ``requirements`` code assets unpacked from S3 (read with the instance role, exactly those
    two objects); the environment file, systemd unit, CloudWatch agent configuration and boot
    scripts; commands that start the agent (so cfn-init's own log is shipped even if a later
    step fails), build the virtualenv and reload systemd; and the service, enabled and started.
``verify``
    wait until the service answers on this instance (the web node's ``/readyz``: database,
    Redis and queue reachable; the worker's metrics endpoint, served once it consumes), so the
    signal reports an instance that works.

The environment file holds endpoints, names and secret ARNs, never secret values: the
services read the database credentials and the Redis AUTH token from Secrets Manager at
start, and each fleet's role may read exactly those two secrets (the web fleet also the peer
HMAC key; its environment names the Cognito issuer, JWKS URL, client id and scope prefix). The role also gets what the
CloudWatch agent needs (its log group, metrics in this stage's namespace only) and, on the
web fleet, the two describe calls of ``asg`` peer discovery.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from aws_cdk import Aws, Duration
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager

from stacks import boot_files
from stacks.constructs.cache import Cache
from stacks.constructs.caller_auth import RESOURCE_SERVER, CallerAuth
from stacks.constructs.database import DATABASE_NAME, Database
from stacks.constructs.fleet import Boot, BootPlan, Fleet
from stacks.constructs.job_queue import JobQueue
from stacks.constructs.service_code import ServiceCode
from stacks.context_types import AuroraEngine
from stacks.nag import acknowledge
from stacks.settings import Settings

Service = Literal["web", "worker"]

ROOT: Final = "/opt/scaledref"
APP_DIR: Final = f"{ROOT}/app"
"""Where the code assets are unpacked (``services/`` and ``requirements/``); the services' working directory."""
BIN_DIR: Final = f"{ROOT}/bin"
ENV_DIR: Final = "/etc/scaledref"
LOG_DIR: Final = "/var/log/scaledref"
AGENT_DIR: Final = "/opt/aws/amazon-cloudwatch-agent"
AGENT_CTL: Final = f"{AGENT_DIR}/bin/amazon-cloudwatch-agent-ctl"
AGENT_CONFIG: Final = f"{AGENT_DIR}/etc/scaledref.json"
AGENT_SCRAPE_CONFIG: Final = f"{AGENT_DIR}/etc/scaledref-prometheus.yaml"
PACKAGES: Final = ("python3.11", "python3.11-pip", "amazon-cloudwatch-agent", "logrotate")
DRAIN_MARGIN_SECONDS: Final = 15
"""Of the lifecycle hook's timeout, what the worker keeps after its drain to release leftovers and complete the hook."""
DATABASE_SCHEMES: Final[dict[AuroraEngine, str]] = {
    "aurora-postgresql": "postgresql+psycopg",
    "aurora-mysql": "mysql+pymysql",
}
DATABASE_TLS: Final[dict[AuroraEngine, str]] = {
    "aurora-postgresql": "sslmode=require",
    "aurora-mysql": "ssl_check_hostname=false",  # any ssl_* option makes PyMySQL connect with TLS
}
"""URL options that make the drivers encrypt; the cluster refuses plain connections anyway."""

READY_TIMEOUT: Final = Duration.minutes(5)
"""How long the verify step waits for the service to answer."""
INSTALL_BUDGET: Final = Duration.minutes(15)
"""Packages, the code assets and the virtualenv on the smallest instance type, with room to spare."""
SIGNAL_TIMEOUT: Final = Duration.minutes(INSTALL_BUDGET.to_minutes() + READY_TIMEOUT.to_minutes())
"""The CreationPolicy's (and each rolling-update batch's) wait for cfn-signal: the whole boot, install and verify."""


@dataclass(frozen=True, kw_only=True)
class ServiceSpec:
    """What differs between the two services on their instances."""

    unit: str
    env_file: str
    log_file: str
    agent_config: str
    job: str

    @property
    def log_path(self) -> str:
        """The service's log file (systemd appends stdout and stderr; the agent ships it)."""
        return f"{LOG_DIR}/{self.log_file}"


SERVICES: Final[dict[Service, ServiceSpec]] = {
    "web": ServiceSpec(
        unit="scaledref-api", env_file="web.env", log_file="api.log", agent_config="web.json", job="api"
    ),
    "worker": ServiceSpec(
        unit="scaledref-worker", env_file="worker.env", log_file="worker.log", agent_config="worker.json", job="worker"
    ),
}
DISCOVERY_ACTIONS: Final = ("autoscaling:DescribeAutoScalingGroups", "ec2:DescribeInstances")
"""What ``asg`` discovery (services/routing/discovery.py) calls: the group's members, then their private IPs."""


def metrics_namespace(stage: str) -> str:
    """The CloudWatch namespace of the services' and instances' own metrics in ``stage``."""
    return f"ScaledRef/{stage}"


class ServiceBoot:
    """Builds each fleet's boot from the stack's resources; see the module docstring."""

    def __init__(
        self,
        *,
        settings: Settings,
        code: ServiceCode,
        database: Database,
        cache: Cache,
        jobs: JobQueue,
        auth: CallerAuth,
        peer_key: secretsmanager.ISecret,
        drain_hook_name: str,
    ) -> None:
        self.settings = settings
        self.auth = auth
        self.peer_key = peer_key
        self.code = code
        self.database = database
        self.cache = cache
        self.jobs = jobs
        self.drain_hook_name = drain_hook_name
        self.namespace = metrics_namespace(settings.stage)

    def plan(self, service: Service) -> BootPlan:
        """The :data:`BootPlan` of ``service``'s fleet."""

        def build(fleet: Fleet) -> Boot:
            self._grant(service, fleet)
            return Boot(
                init=self.init(service, fleet),
                signals=autoscaling.Signals.wait_for_min_capacity(timeout=SIGNAL_TIMEOUT),
                init_options=autoscaling.ApplyCloudFormationInitOptions(
                    config_sets=["install", "verify"], print_log=True
                ),
                code_buckets=[self.code.services.s3_bucket_name],
                health_check_grace=SIGNAL_TIMEOUT,
            )

        return build

    # -- what the instance gets -------------------------------------------------------

    def init(self, service: Service, fleet: Fleet) -> ec2.CloudFormationInit:
        """The cfn-init metadata of ``service`` on ``fleet``."""
        spec = SERVICES[service]
        return ec2.CloudFormationInit.from_config_sets(
            config_sets={"install": ["install"], "verify": ["verify"]},
            configs={
                "install": ec2.InitConfig(
                    [
                        *(ec2.InitPackage.yum(package) for package in PACKAGES),
                        ec2.InitSource.from_url(f"{APP_DIR}/services", self.code.services.http_url),
                        ec2.InitSource.from_url(f"{APP_DIR}/requirements", self.code.requirements.http_url),
                        ec2.InitFile.from_string(
                            f"{ENV_DIR}/{spec.env_file}",
                            boot_files.read(f"env/{spec.env_file}", self.environment(service, fleet)),
                            mode="000640",
                            owner="root",
                            group="root",
                        ),
                        ec2.InitFile.from_string(
                            f"/etc/systemd/system/{spec.unit}.service",
                            boot_files.read(f"systemd/{spec.unit}.service", self.unit_values(service)),
                            mode="000644",
                        ),
                        ec2.InitFile.from_string(
                            AGENT_CONFIG,
                            boot_files.read(
                                f"cloudwatch/{spec.agent_config}",
                                {"LogGroup": fleet.log_group.log_group_name, "Namespace": self.namespace},
                            ),
                            mode="000644",
                        ),
                        ec2.InitFile.from_string(
                            AGENT_SCRAPE_CONFIG,
                            boot_files.read(
                                "cloudwatch/prometheus.yaml",
                                {"Job": spec.job, "Fleet": service, "MetricsPort": str(self.metrics_port(service))},
                            ),
                            mode="000644",
                        ),
                        ec2.InitFile.from_string("/etc/logrotate.d/scaledref", boot_files.read("logrotate/scaledref")),
                        *(
                            ec2.InitFile.from_string(
                                f"{BIN_DIR}/{script}", boot_files.read(f"bin/{script}"), mode="000755"
                            )
                            for script in ("install-services", "wait-ready")
                        ),
                        # The agent first: it ships cfn-init's log even when a later step fails.
                        ec2.InitCommand.shell_command(
                            f"{AGENT_CTL} -a fetch-config -m ec2 -s -c file:{AGENT_CONFIG}", key="10-cloudwatch-agent"
                        ),
                        ec2.InitCommand.shell_command(f"{BIN_DIR}/install-services", key="20-install-services"),
                        ec2.InitCommand.shell_command("systemctl daemon-reload", key="30-systemd-reload"),
                        ec2.InitService.enable(
                            spec.unit, enabled=True, ensure_running=True, service_manager=ec2.ServiceManager.SYSTEMD
                        ),
                    ]
                ),
                "verify": ec2.InitConfig(
                    [
                        ec2.InitCommand.shell_command(
                            f"{BIN_DIR}/wait-ready {self.ready_url(service)} {spec.log_path} "
                            f"{int(READY_TIMEOUT.to_seconds())}",
                            key="10-wait-ready",
                        )
                    ]
                ),
            },
        )

    def environment(self, service: Service, fleet: Fleet) -> dict[str, str]:
        """The values of ``deploy/env/<service>.env``: references to this deployment's resources."""
        values = {
            "Region": Aws.REGION,
            "DatabaseUrl": self.database_url(),
            "DatabaseSecretArn": self.database.secret.secret_arn,
            "CacheHost": self.cache.primary_endpoint,
            "CachePort": self.cache.primary_port,
            "CacheSecretArn": self.cache.auth_token.secret_arn,
            "QueueUrl": self.jobs.queue.queue_url,
            "GroupName": fleet.group_name,
            "DemoJobTypes": str(self.settings.demo_job_types).lower(),
        }
        if service == "web":
            values |= {
                "ServicePort": str(self.settings.web.service_port),
                "AuthIssuer": self.auth.issuer,
                "AuthJwksUrl": self.auth.jwks_url,
                "AuthClientIds": self.auth.client.user_pool_client_id,
                "AuthScopePrefix": RESOURCE_SERVER,
                "PeerAuthSecretArn": self.peer_key.secret_arn,
            }
        else:
            values |= {
                "MetricsPort": str(self.settings.worker.metrics_port),
                "DrainSeconds": str(self.drain_seconds),
                "LifecycleHookName": self.drain_hook_name,
            }
        return values

    def unit_values(self, service: Service) -> dict[str, str]:
        """The values of ``deploy/systemd/<unit>.service``."""
        return {"DrainTimeoutSeconds": str(self.settings.worker.drain_timeout_seconds)} if service == "worker" else {}

    def database_url(self) -> str:
        """The writer's URL, with TLS, without credentials (the services add them from the secret)."""
        engine = self.settings.database.engine
        endpoint = self.database.cluster.cluster_endpoint.socket_address
        return f"{DATABASE_SCHEMES[engine]}://{endpoint}/{DATABASE_NAME}?{DATABASE_TLS[engine]}"

    @property
    def drain_seconds(self) -> int:
        """``WORKER_DRAIN_SECONDS``: the hook's timeout less what the worker needs after its drain."""
        return self.settings.worker.drain_timeout_seconds - DRAIN_MARGIN_SECONDS

    def metrics_port(self, service: Service) -> int:
        """Where the CloudWatch agent scrapes the service's Prometheus metrics."""
        return self.settings.web.service_port if service == "web" else self.settings.worker.metrics_port

    def ready_url(self, service: Service) -> str:
        """What the verify step waits for."""
        path = "/readyz" if service == "web" else "/metrics"
        return f"http://127.0.0.1:{self.metrics_port(service)}{path}"

    # -- what the instance may do ------------------------------------------------------

    def _grant(self, service: Service, fleet: Fleet) -> None:
        """Exactly the permissions the service and its agent use (code and log writes are the fleet's own)."""
        self.database.secret.grant_read(fleet.role)
        self.cache.auth_token.grant_read(fleet.role)
        # Children of the role: the group depends on the role, so they exist before any instance boots.
        logs = iam.Policy(
            fleet.role,
            "AgentPolicy",
            statements=[
                iam.PolicyStatement(
                    actions=["logs:DescribeLogStreams"],
                    resources=[fleet.log_group.log_group_arn],
                ),
                iam.PolicyStatement(
                    actions=["cloudwatch:PutMetricData"],
                    resources=["*"],
                    conditions={"StringEquals": {"cloudwatch:namespace": self.namespace}},
                ),
            ],
            roles=[fleet.role],
        )
        acknowledge(
            logs,
            "AwsSolutions-IAM5[Resource::*]",
            "PutMetricData has no resource-level permissions; the condition limits it to this stage's namespace.",
        )
        if service == "web":
            self.peer_key.grant_read(fleet.role)
            discovery = iam.Policy(
                fleet.role,
                "DiscoveryPolicy",
                statements=[iam.PolicyStatement(actions=list(DISCOVERY_ACTIONS), resources=["*"])],
                roles=[fleet.role],
            )
            acknowledge(
                discovery,
                "AwsSolutions-IAM5[Resource::*]",
                "DescribeAutoScalingGroups and DescribeInstances support no resource-level permissions; "
                "asg peer discovery reads only the web group's members and their private IPs.",
            )
