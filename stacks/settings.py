"""Typed settings of the CDK app, read once from the CDK context by :func:`load_settings`.

Every setting has a context key (``-c key=value`` or cdk.json) and a default per stage: ``dev``
is the cheapest sensible deployment, ``prod`` turns on Multi-AZ and the protections. A bad value
fails synth with :class:`SettingsError` naming the key and what it accepts. The queue and the
off-peak schedule default to services/jobs/spec.py, the values the worker and the local system
use, so there is one source of truth. ``python -m stacks.settings`` prints the keys and defaults.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, Literal, TypeVar

from services.jobs.spec import PRECOMPUTE, QUEUE, QueueSpec, ScheduleSpec
from stacks.cron import CronError, check_cron, shift_cron

Stage = Literal["dev", "prod"]
AuroraEngine = Literal["aurora-postgresql", "aurora-mysql"]
CacheEngine = Literal["redis", "valkey"]
Architecture = Literal["arm64", "x86_64"]

STAGES: Final[tuple[Stage, ...]] = ("dev", "prod")
AURORA_ENGINES: Final[tuple[AuroraEngine, ...]] = ("aurora-postgresql", "aurora-mysql")
CACHE_ENGINES: Final[tuple[CacheEngine, ...]] = ("redis", "valkey")
ARCHITECTURES: Final[tuple[Architecture, ...]] = ("arm64", "x86_64")
DEFAULT_DB_PORTS: Final[dict[AuroraEngine, int]] = {"aurora-postgresql": 5432, "aurora-mysql": 3306}
DEFAULT_CACHE_PORT: Final = 6379
LOG_RETENTION_DAYS: Final = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 3653)
"""The retention periods CloudWatch Logs accepts (the ones this app offers)."""

INSTANCE_TYPES: Final[dict[Architecture, tuple[str, str]]] = {
    "arm64": ("t4g.small", "m7g.large"),
    "x86_64": ("t3.small", "m7i.large"),
}
"""The (dev, prod) instance types of each architecture: Graviton by default, Intel with x86_64."""

_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
_GRAVITON_FAMILY = re.compile(r"^(a1|[a-z]+\d+g[a-z-]*)$")
"""Families with a ``g`` after the generation (t4g, m7g, c7gn, r8gd, im4gn) and a1 run on Graviton."""
_CACHE_NODE_TYPE = re.compile(r"^cache\.[a-z][a-z0-9-]*\.[a-z0-9]+$")
_CERTIFICATE_ARN = re.compile(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TRUE, _FALSE = ("true", "yes", "1"), ("false", "no", "0")
_SQS_RETENTION = (60, 14 * 24 * 3600)


class SettingsError(ValueError):
    """A context key has a value the app cannot use; the message names the key and what it accepts."""


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
    health_check_path: str = "/healthz"


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


T = TypeVar("T")


class _Context:
    """Reads context keys, falling back to the stage's default; remembers which keys it knows."""

    def __init__(self, context: Mapping[str, object]) -> None:
        self._context = context
        self.known: dict[str, object] = {}

    def _read(self, key: str, default: T, parse: Callable[[object], T]) -> T:
        self.known[key] = default
        raw = self._context.get(key)
        if raw is None or raw == "":
            return default
        return parse(raw)

    def choice(self, key: str, default: T, allowed: tuple[T, ...]) -> T:
        def parse(raw: object) -> T:
            for option in allowed:
                if str(raw) == str(option):
                    return option
            raise SettingsError(f"{key} must be one of {', '.join(map(str, allowed))}; got {raw!r}")

        return self._read(key, default, parse)

    def integer(
        self, key: str, default: int, low: int, high: int, note: str = "", *, excluded: int | None = None
    ) -> int:
        """An integer in ``low..high`` other than ``excluded``; ``note`` tells the user why, in the error."""
        message = f"{key} must be an integer {low}..{high}{note}"

        def parse(raw: object) -> int:
            text = str(raw).strip()
            if isinstance(raw, bool) or not re.fullmatch(r"[+-]?\d+", text):
                raise SettingsError(f"{message}; got {raw!r}")
            return int(text)

        value = self._read(key, default, parse)
        if not low <= value <= high or value == excluded:
            raise SettingsError(f"{message}; got {value}")
        return value

    def halves(self, key: str, default: float, low: float, high: float) -> float:
        """A number in steps of 0.5 (Aurora capacity units)."""
        message = f"{key} must be a number {low:g}..{high:g} in steps of 0.5"

        def parse(raw: object) -> float:
            try:
                if isinstance(raw, bool):
                    raise ValueError(raw)
                return float(str(raw))
            except ValueError:
                raise SettingsError(f"{message}; got {raw!r}") from None

        value = self._read(key, default, parse)
        if not low <= value <= high or (value * 2) % 1:
            raise SettingsError(f"{message}; got {value:g}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        def parse(raw: object) -> bool:
            text = str(raw).strip().lower()
            if text in _TRUE or text in _FALSE:
                return text in _TRUE
            raise SettingsError(f"{key} must be true or false; got {raw!r}")

        return self._read(key, default, parse)

    def text(self, key: str, default: str, check: Callable[[str], str], allowed: str) -> str:
        def parse(raw: object) -> str:
            try:
                return check(str(raw).strip())
            except ValueError as error:
                raise SettingsError(f"{key} must be {allowed}; got {raw!r} ({error})") from None

        return self._read(key, default, parse)

    def optional_text(self, key: str, pattern: re.Pattern[str], allowed: str) -> str | None:
        def parse(raw: object) -> str | None:
            text = str(raw).strip()
            if not pattern.fullmatch(text):
                raise SettingsError(f"{key} must be {allowed}; got {raw!r}")
            return text

        return self._read(key, None, parse)


def _matching(pattern: re.Pattern[str], what: str) -> Callable[[str], str]:
    def check(text: str) -> str:
        if not pattern.fullmatch(text):
            raise ValueError(f"not {what}")
        return text

    return check


def _cidr(text: str) -> str:
    network = ipaddress.ip_network(text, strict=True)
    if network.version != 4 or not 16 <= network.prefixlen <= 18:
        raise ValueError("three tiers of subnets in up to six zones need an IPv4 block from /16 to /18")
    return str(network)


def instance_architecture(instance_type: str) -> Architecture:
    """The CPU architecture of ``instance_type`` (``t4g.small`` → arm64, ``c7i.large`` → x86_64)."""
    return "arm64" if _GRAVITON_FAMILY.match(instance_type.split(".", maxsplit=1)[0]) else "x86_64"


def _fleet(
    ctx: _Context,
    prefix: str,
    prod: bool,
    architecture: Architecture,
    *,
    dev_sizes: tuple[int, int],
    prod_sizes: tuple[int, int],
) -> FleetSettings:
    """``<prefix>InstanceType``, ``<prefix>MinCapacity``, ``<prefix>MaxCapacity`` and ``<prefix>DesiredCapacity``."""
    instance_type = INSTANCE_TYPES[architecture][1 if prod else 0]
    minimum, maximum = prod_sizes if prod else dev_sizes
    type_key = f"{prefix}InstanceType"
    min_key, max_key, desired_key = f"{prefix}MinCapacity", f"{prefix}MaxCapacity", f"{prefix}DesiredCapacity"
    fleet = FleetSettings(
        instance_type=ctx.text(
            type_key,
            instance_type,
            _matching(_INSTANCE_TYPE, "an instance type"),
            "an EC2 instance type such as t4g.small or m7g.large",
        ),
        # At least one: target tracking multiplies the current size, so it never grows a group from zero.
        min_capacity=ctx.integer(min_key, minimum, 1, 100),
        max_capacity=ctx.integer(max_key, maximum, 1, 100),
        desired_capacity=ctx.integer(desired_key, 0, 0, 100, " (0: let scaling decide)") or None,
        architecture=architecture,
    )
    if instance_architecture(fleet.instance_type) != architecture:
        raise SettingsError(
            f"{type_key} must be an {architecture} instance type (architecture={architecture}); "
            f"got {fleet.instance_type!r}, an {instance_architecture(fleet.instance_type)} type "
            f"(set architecture={instance_architecture(fleet.instance_type)} to use it)"
        )
    if fleet.max_capacity < fleet.min_capacity:
        raise SettingsError(f"{max_key} must be at least {min_key} ({fleet.min_capacity}); got {fleet.max_capacity}")
    desired = fleet.desired_capacity
    if desired is not None and not fleet.min_capacity <= desired <= fleet.max_capacity:
        raise SettingsError(
            f"{desired_key} must be within {min_key}..{max_key} ({fleet.min_capacity}..{fleet.max_capacity}); "
            f"got {desired}"
        )
    return fleet


def _network(ctx: _Context, prod: bool) -> NetworkSettings:
    max_azs = ctx.integer("maxAzs", 3 if prod else 2, 2, 6)
    return NetworkSettings(
        cidr=ctx.text("vpcCidr", "10.0.0.0/16", _cidr, "an IPv4 CIDR block from /16 to /18"),
        max_azs=max_azs,
        nat_gateways=ctx.integer("natGateways", max_azs if prod else 1, 1, max_azs, " (at most maxAzs)"),
        interface_endpoints=ctx.boolean("interfaceEndpoints", prod),
    )


def _database(ctx: _Context, prod: bool) -> DatabaseSettings:
    engine = ctx.choice("auroraEngine", "aurora-postgresql", AURORA_ENGINES)
    default_port = DEFAULT_DB_PORTS[engine]
    port = ctx.integer(
        "dbPort", default_port + 1, 1150, 65535, f" other than {engine}'s default {default_port}", excluded=default_port
    )
    min_capacity = ctx.halves("dbMinCapacity", 1.0 if prod else 0.5, 0.5, 256)
    max_capacity = ctx.halves("dbMaxCapacity", 16.0 if prod else 2.0, 1, 256)
    if max_capacity < min_capacity:
        raise SettingsError(f"dbMaxCapacity must be at least dbMinCapacity ({min_capacity:g}); got {max_capacity:g}")
    retention_low = 7 if prod else 1
    return DatabaseSettings(
        engine=engine,
        port=port,
        min_capacity=min_capacity,
        max_capacity=max_capacity,
        readers=ctx.integer("dbReaders", 1, 1, 15),
        backup_retention_days=ctx.integer("dbBackupRetentionDays", retention_low, retention_low, 35),
    )


def _cache(ctx: _Context, prod: bool) -> CacheSettings:
    cache = CacheSettings(
        engine=ctx.choice("cacheEngine", "redis", CACHE_ENGINES),
        node_type=ctx.text(
            "cacheNodeType",
            "cache.m7g.large" if prod else "cache.t4g.micro",
            _matching(_CACHE_NODE_TYPE, "a cache node type"),
            "an ElastiCache node type such as cache.t4g.micro",
        ),
        replicas=ctx.integer("cacheReplicas", 1, 0, 5),
        multi_az=ctx.boolean("cacheMultiAz", prod),
        port=ctx.integer(
            "cachePort",
            DEFAULT_CACHE_PORT + 1,
            1024,
            65535,
            f" other than the default {DEFAULT_CACHE_PORT}",
            excluded=DEFAULT_CACHE_PORT,
        ),
        snapshot_retention_days=ctx.integer("cacheSnapshotRetentionDays", 7 if prod else 1, 1, 35),
    )
    if cache.multi_az and cache.replicas < 1:
        raise SettingsError("cacheMultiAz needs cacheReplicas of at least 1 (a replica to fail over to); got 0")
    return cache


def _queue(ctx: _Context) -> QueueSpec:
    retention = ctx.integer("queueRetentionSeconds", QUEUE.retention_seconds, *_SQS_RETENTION)
    dlq_retention = ctx.integer(
        "queueDlqRetentionSeconds", QUEUE.dlq_retention_seconds, retention, _SQS_RETENTION[1], " (at least the queue's)"
    )
    visibility = ctx.integer(
        "queueVisibilityTimeoutSeconds",
        QUEUE.visibility_timeout_seconds,
        QUEUE.heartbeat_seconds + 1,
        43200,
        f" (longer than the worker's {QUEUE.heartbeat_seconds} s heartbeat)",
    )
    return dataclasses.replace(
        QUEUE,
        visibility_timeout_seconds=visibility,
        max_receive_count=ctx.integer("queueMaxReceiveCount", QUEUE.max_receive_count, 1, 1000),
        receive_wait_seconds=ctx.integer("queueReceiveWaitSeconds", QUEUE.receive_wait_seconds, 0, 20),
        retention_seconds=retention,
        dlq_retention_seconds=dlq_retention,
    )


def _web(ctx: _Context, prod: bool, architecture: Architecture) -> WebSettings:
    service_port = ctx.integer("servicePort", 8080, 1024, 65535)
    peer_port = ctx.integer("peerPort", service_port, 1024, 65535)
    if peer_port != service_port:
        raise SettingsError(
            f"peerPort must equal servicePort ({service_port}): the API serves its peers on the port "
            f"the load balancer uses; got {peer_port}"
        )
    return WebSettings(
        fleet=_fleet(ctx, "web", prod, architecture, dev_sizes=(1, 3), prod_sizes=(3, 12)),
        service_port=service_port,
        peer_port=peer_port,
        requests_per_target=ctx.integer("webRequestsPerTarget", 1000, 1, 100_000, " requests per minute"),
        certificate_arn=ctx.optional_text(
            "certificateArn", _CERTIFICATE_ARN, "an ACM certificate ARN (arn:aws:acm:REGION:ACCOUNT:certificate/ID)"
        ),
    )


def _worker(ctx: _Context, prod: bool, architecture: Architecture) -> WorkerSettings:
    return WorkerSettings(
        fleet=_fleet(ctx, "worker", prod, architecture, dev_sizes=(1, 2), prod_sizes=(2, 10)),
        backlog_per_instance=ctx.integer("workerBacklogPerInstance", 100, 1, 100_000, " messages"),
        drain_timeout_seconds=ctx.integer("workerDrainTimeoutSeconds", 300, 30, 7200),
        metrics_port=ctx.integer("workerMetricsPort", 9101, 1024, 65535),
    )


def _precompute(ctx: _Context, worker: FleetSettings) -> PrecomputeSettings:
    cron = ctx.text(
        "precomputeCron", PRECOMPUTE.cron, check_cron, "a five-field UTC cron expression with weekday * or names"
    )
    capacity = ctx.integer(
        "precomputeCapacity",
        min(worker.max_capacity, 3 * worker.min_capacity),
        worker.min_capacity,
        worker.max_capacity,
        " (between workerMinCapacity and workerMaxCapacity)",
    )
    lead = ctx.integer("precomputeLeadMinutes", 15, 0, 720)
    window = ctx.integer("precomputeWindowMinutes", 60, 1, 1440)
    try:
        scale_up, scale_down = shift_cron(cron, -lead), shift_cron(cron, window)
    except CronError as error:
        raise SettingsError(f"precomputeCron with precomputeLeadMinutes/precomputeWindowMinutes: {error}") from None
    return PrecomputeSettings(
        schedule=dataclasses.replace(PRECOMPUTE, cron=cron),
        capacity=capacity,
        scale_up_cron=scale_up,
        scale_down_cron=scale_down,
    )


def estimated_max_connections(engine: AuroraEngine, max_capacity: float) -> int:
    """Aurora's default max_connections at ``max_capacity`` ACUs (2 GiB each), capped at 5000 as Aurora does.

    PostgreSQL: memory / 9,531,392 bytes; MySQL: memory / 12,582,880 bytes (the parameter-group formulas).
    """
    memory = max_capacity * 2 * 1024**3
    per_connection = 9_531_392 if engine == "aurora-postgresql" else 12_582_880
    return min(5000, int(memory // per_connection))


def _observability(ctx: _Context, prod: bool, database: DatabaseSettings) -> ObservabilitySettings:
    connections = estimated_max_connections(database.engine, database.max_capacity)
    return ObservabilitySettings(
        log_retention_days=ctx.choice("logRetentionDays", 90 if prod else 7, LOG_RETENTION_DAYS),
        alarm_email=ctx.optional_text("alarmEmail", _EMAIL, "an email address"),
        oldest_message_alarm_seconds=ctx.integer("alarmOldestMessageSeconds", 600, 60, 14 * 24 * 3600),
        db_connections_alarm=ctx.integer("alarmDbConnections", connections * 4 // 5, 1, 16_000),
    )


def _reject_misspelt_keys(context: Mapping[str, object], known: Mapping[str, object]) -> None:
    for key in context:
        if key in known:
            continue
        close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.8)
        if close:
            raise SettingsError(f"unknown context key {key!r}; did you mean {close[0]!r}?")


def _read_all(context: Mapping[str, object]) -> tuple[Settings, dict[str, object]]:
    ctx = _Context(context)
    stage = ctx.choice("stage", "dev", STAGES)
    prod = stage == "prod"
    network = _network(ctx, prod)
    database = _database(ctx, prod)
    architecture = ctx.choice("architecture", "arm64", ARCHITECTURES)
    worker = _worker(ctx, prod, architecture)
    settings = Settings(
        stage=stage,
        protect_data=ctx.boolean("protectData", prod),
        network=network,
        database=database,
        cache=_cache(ctx, prod),
        queue=_queue(ctx),
        web=_web(ctx, prod, architecture),
        worker=worker,
        precompute=_precompute(ctx, worker.fleet),
        observability=_observability(ctx, prod, database),
    )
    return settings, ctx.known


def load_settings(context: Mapping[str, object]) -> Settings:
    """The settings the context asks for (stage defaults for the keys it leaves out).

    Raises :class:`SettingsError` for an invalid value or a misspelt key, naming the key.
    """
    settings, known = _read_all(context)
    _reject_misspelt_keys(context, known)
    return settings


def context_keys(stage: Stage) -> dict[str, object]:
    """Every context key with its default for ``stage`` (``None``: unset)."""
    return {**_read_all({"stage": stage})[1], "stage": stage}


if __name__ == "__main__":
    prod_defaults = context_keys("prod")
    for key, dev in context_keys("dev").items():
        print(f"{key:32} dev={dev!s:20} prod={prod_defaults[key]!s}")
