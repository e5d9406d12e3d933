"""What the stacks are built from: :class:`Settings`, read once from the CDK context by :func:`load_settings`.

The context keys and their checks are declared in :mod:`stacks.context`, their per-stage defaults
in :mod:`stacks.defaults`; this module groups the values the way the stacks use them (network,
database, cache, fleets ...).

``make settings`` (or ``.venv/bin/python -m stacks.settings``) lists every key with its dev and prod
defaults; docs/settings.md is generated from the same declarations (``make docs``).
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from services.jobs.spec import PRECOMPUTE, QUEUE, QueueSpec, ScheduleSpec
from stacks.context import Context, ContextError, read_context
from stacks.context_types import (
    Architecture,
    AuroraEngine,
    CacheEngine,
    Stage,
)


@dataclass(frozen=True, kw_only=True)
class NetworkSettings:
    """The VPC: address range, Availability Zones, NAT gateways and interface endpoints."""

    cidr: str
    max_azs: int
    nat_gateways: int
    interface_endpoints: bool

    @property
    def app_subnet_mask(self) -> int:
        """Instance subnets: 1/16 of the VPC each (a /20 in a /16)."""
        return int(self.cidr.split("/")[1]) + 4

    @property
    def edge_subnet_mask(self) -> int:
        """Public (load balancer) and isolated (data) subnets: 1/256 of the VPC each (a /24 in a /16)."""
        return int(self.cidr.split("/")[1]) + 8


@dataclass(frozen=True, kw_only=True)
class DatabaseSettings:
    """Aurora Serverless v2: the engine, its port and the capacity range (the vertical knob)."""

    engine: AuroraEngine
    port: int
    min_capacity: float
    max_capacity: float
    readers: int
    backup_retention_days: int


@dataclass(frozen=True, kw_only=True)
class CacheSettings:
    """The ElastiCache replication group: engine, node size, replicas and snapshots."""

    engine: CacheEngine
    node_type: str
    replicas: int
    multi_az: bool
    port: int
    snapshot_retention_days: int

    @property
    def automatic_failover(self) -> bool:
        """A replica can take over from a failed primary: on whenever there is one."""
        return self.replicas >= 1


@dataclass(frozen=True, kw_only=True)
class FleetSettings:
    """One Auto Scaling group: instance type (vertical) and group size (horizontal).

    ``architecture`` is the instance type's CPU architecture; the AMI is chosen for it.
    """

    instance_type: str
    min_capacity: int
    max_capacity: int
    desired_capacity: int | None
    architecture: Architecture = "arm64"
    root_volume_gib: int = 16


@dataclass(frozen=True, kw_only=True)
class WebSettings:
    """The web fleet behind the load balancer."""

    fleet: FleetSettings
    service_port: int
    peer_port: int
    requests_per_target: int
    certificate_arn: str | None
    allow_http: bool = False
    health_check_path: str = "/healthz"


@dataclass(frozen=True, kw_only=True)
class WafSettings:
    """The AWS WAF web ACL in front of the load balancer: which rules are on, the rate limit, the alarm."""

    common_rules: bool
    known_bad_inputs: bool
    ip_reputation: bool
    rate_rule: bool
    rate_limit: int
    """Requests per client IP in any 5-minute window before the rate rule blocks it."""
    blocked_alarm_requests: int


@dataclass(frozen=True, kw_only=True)
class AuthSettings:
    """The Cognito user pool that issues the callers' access tokens (client credentials)."""

    domain_prefix: str | None
    """The hosted domain's prefix; ``None`` derives ``scaledref-<stage>-<account id>`` at deploy time."""


@dataclass(frozen=True, kw_only=True)
class WorkerSettings:
    """The worker fleet fed by the job queue."""

    fleet: FleetSettings
    backlog_per_instance: int
    drain_timeout_seconds: int
    metrics_port: int = 9101


@dataclass(frozen=True, kw_only=True)
class PrecomputeSettings:
    """The off-peak job and the window in which the worker fleet is held larger for it."""

    schedule: ScheduleSpec
    capacity: int
    scale_up_cron: str
    scale_down_cron: str


@dataclass(frozen=True, kw_only=True)
class ObservabilitySettings:
    """Log retention, where alarms go, and the thresholds that are not obvious."""

    log_retention_days: int
    alarm_email: str | None
    oldest_message_alarm_seconds: int
    db_connections_alarm: int


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything the stacks need, for one stage."""

    stage: Stage
    protect_data: bool
    network: NetworkSettings
    database: DatabaseSettings
    cache: CacheSettings
    queue: QueueSpec
    web: WebSettings
    worker: WorkerSettings
    precompute: PrecomputeSettings
    observability: ObservabilitySettings
    waf: WafSettings
    auth: AuthSettings
    demo_job_types: bool

    @classmethod
    def from_context(cls, context: Context) -> Settings:
        """The settings of a context that :func:`~stacks.context.read_context` has checked."""
        c = context
        scale_up, scale_down = c.scaling_window()
        return cls(
            stage=c.stage,
            protect_data=c.protect_data,
            network=NetworkSettings(
                cidr=c.vpc_cidr,
                max_azs=c.max_azs,
                nat_gateways=c.nat_gateways,
                interface_endpoints=c.interface_endpoints,
            ),
            database=DatabaseSettings(
                engine=c.aurora_engine,
                port=c.db_port,
                min_capacity=c.db_min_capacity,
                max_capacity=c.db_max_capacity,
                readers=c.db_readers,
                backup_retention_days=c.db_backup_retention_days,
            ),
            cache=CacheSettings(
                engine=c.cache_engine,
                node_type=c.cache_node_type,
                replicas=c.cache_replicas,
                multi_az=c.cache_multi_az,
                port=c.cache_port,
                snapshot_retention_days=c.cache_snapshot_retention_days,
            ),
            queue=dataclasses.replace(
                QUEUE,
                visibility_timeout_seconds=c.queue_visibility_timeout_seconds,
                max_receive_count=c.queue_max_receive_count,
                receive_wait_seconds=c.queue_receive_wait_seconds,
                retention_seconds=c.queue_retention_seconds,
                dlq_retention_seconds=c.queue_dlq_retention_seconds,
            ),
            web=WebSettings(
                fleet=FleetSettings(
                    instance_type=c.web_instance_type,
                    min_capacity=c.web_min_capacity,
                    max_capacity=c.web_max_capacity,
                    desired_capacity=c.web_desired_capacity,
                    architecture=c.architecture,
                ),
                service_port=c.service_port,
                peer_port=c.peer_port,
                requests_per_target=c.web_requests_per_target,
                certificate_arn=c.certificate_arn,
                allow_http=c.allow_http,
            ),
            worker=WorkerSettings(
                fleet=FleetSettings(
                    instance_type=c.worker_instance_type,
                    min_capacity=c.worker_min_capacity,
                    max_capacity=c.worker_max_capacity,
                    desired_capacity=c.worker_desired_capacity,
                    architecture=c.architecture,
                ),
                backlog_per_instance=c.worker_backlog_per_instance,
                drain_timeout_seconds=c.worker_drain_timeout_seconds,
                metrics_port=c.worker_metrics_port,
            ),
            precompute=PrecomputeSettings(
                schedule=dataclasses.replace(PRECOMPUTE, cron=c.precompute_cron),
                capacity=c.precompute_capacity,
                scale_up_cron=scale_up,
                scale_down_cron=scale_down,
            ),
            observability=ObservabilitySettings(
                log_retention_days=c.log_retention_days,
                alarm_email=c.alarm_email,
                oldest_message_alarm_seconds=c.alarm_oldest_message_seconds,
                db_connections_alarm=c.alarm_db_connections,
            ),
            waf=WafSettings(
                common_rules=c.waf_common_rules,
                known_bad_inputs=c.waf_known_bad_inputs,
                ip_reputation=c.waf_ip_reputation,
                rate_rule=c.waf_rate_rule,
                rate_limit=c.waf_rate_limit,
                blocked_alarm_requests=c.waf_blocked_alarm_requests,
            ),
            auth=AuthSettings(domain_prefix=c.auth_domain_prefix),
            demo_job_types=c.demo_job_types,
        )


def load_settings(context: Mapping[str, object]) -> Settings:
    """The settings the CDK context asks for (stage defaults for the keys it leaves out).

    Keys the CDK owns (feature flags, what the CLI passes) are left to it. Raises
    :class:`~stacks.context.ContextError` for any other unknown key, or a value the app cannot use.
    """
    return Settings.from_context(read_context(context))


HTTPS_REQUIRED: Final = (
    "certificateArn is required in prod (HTTPS only): request a public certificate for the API's domain in the "
    "stack's region (aws acm request-certificate --domain-name api.example.com --validation-method DNS), add the "
    "CNAME record it asks for to the domain's DNS, and once it is issued pass -c certificateArn=<its ARN>; "
    "-c allowHttp=true serves plain HTTP instead (unsafe: tokens and data cross the internet unencrypted)"
)


def require_https(settings: Settings) -> None:
    """Refuse a prod deployment without a certificate unless ``allowHttp`` opts out (see docs/deploy.md).

    Raises :class:`~stacks.context.ContextError` naming ``certificateArn`` and how to get one. A check
    of the deployment rather than of the keys, so ``make settings`` can still show prod's defaults.
    """
    web = settings.web
    if settings.stage == "prod" and web.certificate_arn is None and not web.allow_http:
        raise ContextError(HTTPS_REQUIRED)


def main() -> None:
    """``python -m stacks.settings``: print every context key with its dev and prod defaults."""
    from stacks.context_reference import key_table

    try:
        print(key_table(), flush=True)
    except BrokenPipeError:  # the reader stopped early (| head): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


if __name__ == "__main__":
    main()
