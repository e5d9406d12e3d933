"""The CDK context keys of this app: one typed model, and reading it with one-line errors.

Every key is a field of :class:`Context` (``web_min_capacity`` is the key ``webMinCapacity``)
with its type (:mod:`stacks.context_types`), a description and a default. A key the user leaves
out takes, in this order (:mod:`stacks.defaults`):

1. its value in ``STAGE_DEFAULTS`` for the stage, when the stages differ (``dev`` is the
   cheapest sensible deployment, ``prod`` turns on Multi-AZ and the protections);
2. its rule in ``DERIVED_DEFAULTS``, when it follows from keys declared before it;
3. the default declared on the field, the same for both stages. The queue and the off-peak
   schedule default to services/jobs/spec.py, the values the worker and the local system use.

:func:`read_context` refuses keys the app does not own (suggesting the key meant, when one is
close) and raises :class:`ContextError` with one line naming the key and what it accepts.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Annotated, Final

import pydantic
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from pydantic.fields import FieldInfo

from services.jobs.spec import PRECOMPUTE, QUEUE
from stacks.context_types import (
    DEFAULT_CACHE_PORT,
    DEFAULT_DB_PORTS,
    SQS_MAX_RETENTION_SECONDS,
    Architecture,
    AuroraEngine,
    CacheEngine,
    CacheNodeType,
    CachePort,
    CertificateArn,
    Cidr,
    Cron,
    Days,
    DomainPrefix,
    Email,
    Halves,
    InstanceType,
    Integer,
    LogRetention,
    Port,
    Stage,
    accepts,
    instance_architecture,
)
from stacks.cron import CronError, shift_cron
from stacks.defaults import PROD_MIN_BACKUP_RETENTION_DAYS, derived_default, stage_default

CDK_OWNED_KEYS: Final = frozenset({"acknowledged-issue-numbers", "cli-telemetry"})
"""Context keys of the CDK CLI without a ``:`` or ``@``; see :func:`owned_by_cdk`."""


class ContextError(ValueError):
    """The CDK context has a key or a value the app cannot use; the message is one line that names it."""


class Context(BaseModel):
    """Every context key of the app, read from ``-c key=value`` and cdk.json."""

    model_config = ConfigDict(
        alias_generator=to_camel, extra="forbid", frozen=True, str_strip_whitespace=True, validate_default=True
    )

    stage: Stage = Field("dev", description="the stage, and with it the defaults of the keys below")
    architecture: Architecture = Field(
        "arm64", description="CPU of both fleets (Graviton or Intel): picks the instance types' defaults and the AMI"
    )
    protect_data: bool = stage_default(
        "protectData",
        "termination and deletion protection; the data stacks retain or snapshot their resources",
    )

    vpc_cidr: Cidr = Field("10.0.0.0/16", description="the VPC's address range")
    max_azs: Annotated[Integer, Field(ge=2, le=6)] = stage_default(
        "maxAzs", "Availability Zones used (the region's first ones)"
    )
    nat_gateways: Annotated[Integer, Field(ge=1, le=6)] = stage_default("natGateways", "NAT gateways, at most maxAzs")
    interface_endpoints: bool = stage_default(
        "interfaceEndpoints",
        "interface endpoints for SQS, SSM, Secrets Manager and Logs (the S3 endpoint is always there)",
    )

    aurora_engine: AuroraEngine = Field("aurora-postgresql", description="the Aurora Serverless v2 engine")
    db_port: Annotated[Integer, Field(ge=1150, le=65535)] = derived_default(
        "dbPort", "the database port, other than the engine's default"
    )
    db_min_capacity: Annotated[Halves, Field(ge=0.5, le=256)] = stage_default(
        "dbMinCapacity", "least Aurora capacity in ACUs (2 GiB each): the vertical knob"
    )
    db_max_capacity: Annotated[Halves, Field(ge=1, le=256)] = stage_default(
        "dbMaxCapacity", "most Aurora capacity in ACUs, at least dbMinCapacity"
    )
    db_readers: Annotated[Integer, Field(ge=1, le=15)] = Field(
        1, description="reader instances, in other zones than the writer"
    )
    db_backup_retention_days: Days = stage_default(
        "dbBackupRetentionDays",
        f"days of automated backups (prod: at least {PROD_MIN_BACKUP_RETENTION_DAYS})",
    )

    cache_engine: CacheEngine = Field("redis", description="the ElastiCache engine")
    cache_node_type: CacheNodeType = stage_default("cacheNodeType", "the cache node size")
    cache_replicas: Annotated[Integer, Field(ge=0, le=5)] = Field(
        1, description="replicas of the primary, with automatic failover when there is one"
    )
    cache_multi_az: bool = stage_default("cacheMultiAz", "replicas in other zones than the primary (needs a replica)")
    cache_port: CachePort = Field(DEFAULT_CACHE_PORT + 1, description="the cache port")
    cache_snapshot_retention_days: Days = stage_default("cacheSnapshotRetentionDays", "days of daily cache snapshots")

    queue_visibility_timeout_seconds: Annotated[Integer, Field(ge=QUEUE.heartbeat_seconds + 1, le=43200)] = Field(
        QUEUE.visibility_timeout_seconds,
        description=f"SQS visibility timeout, longer than the worker's {QUEUE.heartbeat_seconds} s heartbeat",
    )
    queue_max_receive_count: Annotated[Integer, Field(ge=1, le=1000)] = Field(
        QUEUE.max_receive_count, description="receives before a message goes to the dead-letter queue"
    )
    queue_receive_wait_seconds: Annotated[Integer, Field(ge=0, le=20)] = Field(
        QUEUE.receive_wait_seconds, description="SQS long-poll wait"
    )
    queue_retention_seconds: Annotated[Integer, Field(ge=60, le=SQS_MAX_RETENTION_SECONDS)] = Field(
        QUEUE.retention_seconds, description="how long the job queue keeps a message"
    )
    queue_dlq_retention_seconds: Annotated[Integer, Field(ge=60, le=SQS_MAX_RETENTION_SECONDS)] = Field(
        QUEUE.dlq_retention_seconds,
        description="how long the dead-letter queue keeps a message, at least queueRetentionSeconds",
    )

    service_port: Port = Field(8080, description="the port the API listens on (the load balancer's target port)")
    peer_port: Port = derived_default("peerPort", "web ↔ web forwarding; the API serves peers on servicePort")
    web_instance_type: InstanceType = stage_default("webInstanceType", "web instance size: the vertical knob")
    web_min_capacity: Annotated[Integer, Field(ge=1, le=100)] = stage_default(
        "webMinCapacity", "least web instances: the horizontal knob"
    )
    web_max_capacity: Annotated[Integer, Field(ge=1, le=100)] = stage_default(
        "webMaxCapacity", "most web instances, at least webMinCapacity"
    )
    web_desired_capacity: Annotated[Integer, Field(ge=1, le=100)] | None = Field(
        None, description="pins the web group's size within min..max (unset: scaling decides)"
    )
    web_requests_per_target: Annotated[Integer, Field(ge=1, le=100_000)] = Field(
        1000, description="requests per minute per web instance that target tracking holds"
    )
    certificate_arn: CertificateArn | None = Field(
        None,
        description="ACM certificate: HTTPS on 443 (TLS 1.3 policy), HTTP redirects; prod refuses to synth without it",
    )
    allow_http: bool = Field(
        False, description="UNSAFE: let prod serve plain HTTP on 80 without certificateArn (tokens travel in clear)"
    )
    waf_common_rules: bool = Field(True, description="WAF: AWS managed Common rule set (OWASP-style protections)")
    waf_known_bad_inputs: bool = Field(True, description="WAF: AWS managed Known bad inputs rule set")
    waf_ip_reputation: bool = Field(True, description="WAF: AWS managed Amazon IP reputation list")
    waf_rate_rule: bool = Field(True, description="WAF: block a client IP above wafRateLimit")
    waf_rate_limit: Annotated[Integer, Field(ge=10, le=2_000_000_000)] = Field(
        1000, description="WAF: requests per client IP in any 5 minutes before the rate rule blocks it"
    )
    waf_blocked_alarm_requests: Annotated[Integer, Field(ge=1, le=1_000_000_000)] = Field(
        500, description="alarm when WAF blocks at least this many requests in 5 minutes"
    )
    auth_domain_prefix: DomainPrefix | None = Field(
        None,
        description="Cognito hosted domain prefix for /oauth2/token (unset: scaledref-<stage>-<account id>)",
    )
    demo_job_types: bool = stage_default(
        "demoJobTypes", "accept the demo job types echo, sleep, cpu and fail (JOB_DEMO_TYPES)"
    )

    worker_instance_type: InstanceType = stage_default("workerInstanceType", "worker instance size: the vertical knob")
    worker_min_capacity: Annotated[Integer, Field(ge=1, le=100)] = stage_default(
        "workerMinCapacity", "least worker instances: the horizontal knob"
    )
    worker_max_capacity: Annotated[Integer, Field(ge=1, le=100)] = stage_default(
        "workerMaxCapacity", "most worker instances, at least workerMinCapacity"
    )
    worker_desired_capacity: Annotated[Integer, Field(ge=1, le=100)] | None = Field(
        None, description="pins the worker group's size within min..max (unset: scaling decides)"
    )
    worker_backlog_per_instance: Annotated[Integer, Field(ge=1, le=100_000)] = Field(
        100, description="waiting messages per worker that target tracking holds (10 s latency ÷ 0.1 s per job)"
    )
    worker_drain_timeout_seconds: Annotated[Integer, Field(ge=30, le=7200)] = Field(
        300, description="how long a terminating worker may finish its jobs (lifecycle hook and systemd stop timeout)"
    )
    worker_metrics_port: Port = Field(
        9101, description="where a worker serves Prometheus metrics to the CloudWatch agent (on the instance only)"
    )

    precompute_cron: Cron = Field(PRECOMPUTE.cron, description="when the off-peak precompute job runs (UTC)")
    precompute_capacity: Annotated[Integer, Field(ge=1, le=100)] = derived_default(
        "precomputeCapacity",
        "workers held for the off-peak job, within workerMinCapacity..workerMaxCapacity",
    )
    precompute_lead_minutes: Annotated[Integer, Field(ge=0, le=720)] = Field(
        15, description="minutes before the job that the workers are added"
    )
    precompute_window_minutes: Annotated[Integer, Field(ge=1, le=1440)] = Field(
        60, description="minutes after the job that the workers are held"
    )

    log_retention_days: LogRetention = stage_default("logRetentionDays", "days the log groups keep their events")
    alarm_email: Email | None = Field(None, description="who the alarm topic emails (unset: nobody)")
    alarm_oldest_message_seconds: Annotated[Integer, Field(ge=60, le=SQS_MAX_RETENTION_SECONDS)] = Field(
        600, description="alarm when the oldest waiting job is older than this"
    )
    alarm_db_connections: Annotated[Integer, Field(ge=1, le=16_000)] = derived_default(
        "alarmDbConnections", "alarm when the database has more connections"
    )

    # Checks across keys, each naming the keys involved.

    @pydantic.model_validator(mode="after")
    def _network_fits(self) -> Context:
        if self.nat_gateways > self.max_azs:
            raise ValueError(f"natGateways must be at most maxAzs ({self.max_azs}); got {self.nat_gateways}")
        return self

    @pydantic.model_validator(mode="after")
    def _database_fits(self) -> Context:
        engine_port = DEFAULT_DB_PORTS[self.aurora_engine]
        if self.db_port == engine_port:
            raise ValueError(
                f"dbPort must be other than {self.aurora_engine}'s default {engine_port}; got {engine_port}"
            )
        if self.db_max_capacity < self.db_min_capacity:
            raise ValueError(
                f"dbMaxCapacity must be at least dbMinCapacity ({self.db_min_capacity:g}); got {self.db_max_capacity:g}"
            )
        if self.stage == "prod" and self.db_backup_retention_days < PROD_MIN_BACKUP_RETENTION_DAYS:
            raise ValueError(
                f"dbBackupRetentionDays must be at least {PROD_MIN_BACKUP_RETENTION_DAYS} in prod; "
                f"got {self.db_backup_retention_days}"
            )
        return self

    @pydantic.model_validator(mode="after")
    def _cache_fits(self) -> Context:
        if self.cache_multi_az and self.cache_replicas < 1:
            raise ValueError("cacheMultiAz needs cacheReplicas of at least 1 (a replica to fail over to); got 0")
        return self

    @pydantic.model_validator(mode="after")
    def _queue_fits(self) -> Context:
        if self.queue_dlq_retention_seconds < self.queue_retention_seconds:
            raise ValueError(
                f"queueDlqRetentionSeconds must be at least queueRetentionSeconds ({self.queue_retention_seconds}); "
                f"got {self.queue_dlq_retention_seconds}"
            )
        return self

    @pydantic.model_validator(mode="after")
    def _fleets_fit(self) -> Context:
        if self.peer_port != self.service_port:
            raise ValueError(
                f"peerPort must equal servicePort ({self.service_port}): the API serves its peers on the port "
                f"the load balancer uses; got {self.peer_port}"
            )
        for fleet in ("web", "worker"):
            _check_fleet(self, fleet)
        return self

    @pydantic.model_validator(mode="after")
    def _precompute_fits(self) -> Context:
        low, high = self.worker_min_capacity, self.worker_max_capacity
        if not low <= self.precompute_capacity <= high:
            raise ValueError(
                f"precomputeCapacity must be within workerMinCapacity..workerMaxCapacity ({low}..{high}); "
                f"got {self.precompute_capacity}"
            )
        self.scaling_window()
        return self

    def scaling_window(self) -> tuple[str, str]:
        """The five-field crons at which the worker fleet grows for the off-peak job, and shrinks after it."""
        try:
            return (
                shift_cron(self.precompute_cron, -self.precompute_lead_minutes),
                shift_cron(self.precompute_cron, self.precompute_window_minutes),
            )
        except CronError as error:
            raise ValueError(f"precomputeCron with precomputeLeadMinutes/precomputeWindowMinutes: {error}") from None


def _check_fleet(context: Context, fleet: str) -> None:
    """``<fleet>InstanceType`` of the architecture, and min ≤ desired ≤ max."""
    instance_type: str = getattr(context, f"{fleet}_instance_type")
    minimum: int = getattr(context, f"{fleet}_min_capacity")
    maximum: int = getattr(context, f"{fleet}_max_capacity")
    desired: int | None = getattr(context, f"{fleet}_desired_capacity")
    actual = instance_architecture(instance_type)
    if actual != context.architecture:
        raise ValueError(
            f"{fleet}InstanceType must be an {context.architecture} instance type "
            f"(architecture={context.architecture}); got {instance_type!r}, an {actual} type "
            f"(set architecture={actual} to use it)"
        )
    if maximum < minimum:
        raise ValueError(f"{fleet}MaxCapacity must be at least {fleet}MinCapacity ({minimum}); got {maximum}")
    if desired is not None and not minimum <= desired <= maximum:
        raise ValueError(
            f"{fleet}DesiredCapacity must be within {fleet}MinCapacity..{fleet}MaxCapacity ({minimum}..{maximum}); "
            f"got {desired}"
        )


KEYS: Final[dict[str, FieldInfo]] = {field.alias or name: field for name, field in Context.model_fields.items()}
"""Every context key the app owns, with its field."""


def owned_by_cdk(key: str) -> bool:
    """A key the CDK itself puts in the context: feature flags (``@aws-cdk/...``), what the CLI passes
    (``aws:cdk:...``), cached lookups (``availability-zones:account=...``) and :data:`CDK_OWNED_KEYS`.
    """
    return key.startswith(("@", "$")) or ":" in key or key in CDK_OWNED_KEYS


def read_context(context: Mapping[str, object]) -> Context:
    """The app's keys of ``context`` read into a :class:`Context` (defaults for the keys it leaves out).

    An empty value (``-c alarmEmail=``) counts as left out. Raises :class:`ContextError` for a key
    the app does not own, or a value it cannot use, in one line naming the key.
    """
    ours = {key: value for key, value in context.items() if not owned_by_cdk(key)}
    unknown = [key for key in ours if key not in KEYS]
    if unknown:
        raise ContextError("; ".join(_unknown_key(key) for key in unknown))
    given = {key: value for key, value in ours.items() if value is not None and value != ""}
    try:
        return Context.model_validate(given)
    except pydantic.ValidationError as error:
        raise ContextError(_describe(error)) from None


def _unknown_key(key: str) -> str:
    by_lower = {known.lower(): known for known in KEYS}
    close = difflib.get_close_matches(key.lower(), list(by_lower), n=1, cutoff=0.8)
    hint = (
        f"did you mean {by_lower[close[0]]!r}?" if close else "it is not a key of this app (make settings lists them)"
    )
    return f"unknown context key {key!r}; {hint}"


def _describe(error: pydantic.ValidationError) -> str:
    """The first problem of ``error`` in words: the key, what it accepts and what it got."""
    problems = [problem for problem in error.errors() if problem["type"] != "default_factory_not_called"]
    problem = problems[0]  # the others, if any, are reported once this one is fixed
    reason = str(problem["msg"]).removeprefix("Value error, ")
    if not problem["loc"]:  # a check across keys: its message names them
        return reason
    key = str(problem["loc"][0])
    message = f"{key} must be {accepts(KEYS[key])}; got {problem['input']!r}"
    return f"{message} ({reason})" if problem["type"] == "value_error" and reason else message


def defaults(stage: Stage) -> Context:
    """The context of ``stage`` with every default."""
    return Context.model_validate({"stage": stage})
