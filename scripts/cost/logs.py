"""Who writes to each CloudWatch log group, and how much a month: the fleets' agents, flow logs, WAF, databases, caches.

The writers are found in the templates (the agent configuration's ``log_group_name``, a flow
log's ``LogGroupName``, a WAF logging configuration's destination, a cache's log delivery, a
Lambda function's logging configuration, the ``/aws/rds/`` and ``/aws/lambda/`` name prefixes);
the volumes come from the assumptions.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Final

from cost.deployment import Deployment, referenced_ids, render
from cost.fleets import Fleet, fleets
from cost.model import Resource
from cost.prices import DAYS_PER_MONTH, HOURS_PER_MONTH

LogGroupKey = tuple[str, str]
"""(stack, logical ID) of a log group."""

_REF = re.compile(r"^\{ref:([^}]+)\}$")
BACKGROUND_FLOWS_PER_INSTANCE: Final = 10
"""Long-lived connections of an instance (database, cache, peers, endpoints) that flow logs record."""
FLOW_LOG_WINDOWS_PER_HOUR: Final = 6
"""Flow logs aggregate a connection's packets into one record per direction per 10-minute window."""
LAMBDA_LOG_GB: Final = 0.001


@dataclass(frozen=True)
class LogSource:
    """A writer of a log group: what it is and the GB it sends a month (baseline, ceiling)."""

    what: str
    gb: float
    gb_ceiling: float
    origin: LogGroupKey | None = None
    """(stack, logical ID) of the writing resource, when it is one (a flow log, a WAF logging configuration)."""


def log_sources(deployment: Deployment) -> dict[LogGroupKey, list[LogSource]]:
    """The writers of every log group they could be traced to."""
    return deployment.memo("log sources", lambda: _find(deployment))


def fleet_log_gb(fleet: Fleet, deployment: Deployment) -> tuple[float, float]:
    """GB a month a fleet's instances send to CloudWatch Logs: per instance, plus per job on a queue-consuming fleet."""
    a = deployment.assumptions
    per_instance = a.instance_log_mb_per_day * DAYS_PER_MONTH / 1000
    jobs = (
        0.0
        if fleet.serves_traffic
        else a.jobs_per_month * deployment.share(fleet.group.region) * a.log_kb_per_job / 1e6
    )
    return per_instance * fleet.baseline + jobs, per_instance * fleet.max_size + jobs


def waf_log_gb(logging: Resource, deployment: Deployment) -> float:
    """GB a month a WAF logging configuration writes: every request, or only the blocked ones if its filter says so."""
    a = deployment.assumptions
    share = a.waf_blocked_share if _keeps_only_blocks(logging.get("LoggingFilter")) else 1.0
    return a.requests_per_month * deployment.share(logging.region) * share * a.waf_log_kb / 1e6


def _keeps_only_blocks(logging_filter: Any) -> bool:
    if not isinstance(logging_filter, dict) or logging_filter.get("DefaultBehavior") != "DROP":
        return False
    actions = {
        condition.get("ActionCondition", {}).get("Action")
        for item in logging_filter.get("Filters", [])
        if item.get("Behavior") == "KEEP"
        for condition in item.get("Conditions", [])
    }
    return bool(actions) and actions <= {"BLOCK", "CAPTCHA", "CHALLENGE", "EXCLUDED_AS_COUNT"}


def flow_log_gb(flow_log: Resource, deployment: Deployment) -> tuple[float, float]:
    """GB a month a VPC flow log writes: client connections to the load balancer, and each instance's own flows."""
    a = deployment.assumptions
    connections = a.requests_per_month * deployment.share(flow_log.region) / a.requests_per_connection
    in_region = [fleet for fleet in fleets(deployment) if fleet.group.region == flow_log.region]
    per_instance = BACKGROUND_FLOWS_PER_INSTANCE * 2 * FLOW_LOG_WINDOWS_PER_HOUR * HOURS_PER_MONTH
    records = connections * 2 + per_instance * sum(fleet.baseline for fleet in in_region)
    records_ceiling = connections * 2 + per_instance * sum(fleet.max_size for fleet in in_region)
    rejected_only = 0.01 if flow_log.get("TrafficType") == "REJECT" else 1.0
    scale = a.flow_log_record_bytes / 1e9 * rejected_only
    return records * scale, records_ceiling * scale


def database_log_gb(deployment: Deployment) -> float:
    """GB a month of one exported database log (one log type of one cluster)."""
    return deployment.assumptions.db_log_mb_per_day * DAYS_PER_MONTH / 1000


def _find(deployment: Deployment) -> dict[LogGroupKey, list[LogSource]]:
    found: dict[LogGroupKey, list[LogSource]] = defaultdict(list)
    groups = {(r.stack, r.logical_id) for r in deployment.of_type("AWS::Logs::LogGroup")}

    def add(stack: str, ids: list[str], source: LogSource) -> None:
        targets = [key for key in dict.fromkeys((stack, i) for i in ids) if key in groups]
        for key in targets:
            found[key].append(
                LogSource(source.what, source.gb / len(targets), source.gb_ceiling / len(targets), source.origin)
            )

    for fleet in fleets(deployment):
        gb, gb_ceiling = fleet_log_gb(fleet, deployment)
        add(fleet.group.stack, agent_log_group_ids(fleet), LogSource(f"{fleet.group.label} instances", gb, gb_ceiling))
    for flow_log in deployment.of_type("AWS::EC2::FlowLog"):
        gb, gb_ceiling = flow_log_gb(flow_log, deployment)
        destination = flow_log.get("LogGroupName") or flow_log.get("LogDestination")
        add(flow_log.stack, referenced_ids(destination), LogSource("VPC flow logs", gb, gb_ceiling, _key(flow_log)))
    for logging in deployment.of_type("AWS::WAFv2::LoggingConfiguration"):
        gb = waf_log_gb(logging, deployment)
        add(
            logging.stack,
            referenced_ids(logging.get("LogDestinationConfigs")),
            LogSource("WAF logs", gb, gb, _key(logging)),
        )
    for cache in deployment.of_type("AWS::ElastiCache::ReplicationGroup"):
        gb = deployment.assumptions.cache_log_mb_per_day * DAYS_PER_MONTH / 1000
        for delivery in cache.get("LogDeliveryConfigurations") or []:
            details = (delivery.get("DestinationDetails") or {}).get("CloudWatchLogsDetails") or {}
            add(cache.stack, referenced_ids(details.get("LogGroup")), LogSource("cache logs", gb, gb))
    for function in deployment.of_type("AWS::Lambda::Function"):
        ids = referenced_ids((function.get("LoggingConfig") or {}).get("LogGroup"))
        add(function.stack, ids, LogSource("Lambda function logs", LAMBDA_LOG_GB, LAMBDA_LOG_GB))
    for group in deployment.of_type("AWS::Logs::LogGroup"):
        name = render(group.get("LogGroupName", ""))
        if name.startswith("/aws/rds/"):
            gb = database_log_gb(deployment)
            found[(group.stack, group.logical_id)].append(LogSource("exported database logs", gb, gb))
        elif name.startswith("/aws/lambda/"):
            found[(group.stack, group.logical_id)].append(
                LogSource("Lambda function logs", LAMBDA_LOG_GB, LAMBDA_LOG_GB)
            )
    return dict(found)


def _key(resource: Resource) -> LogGroupKey:
    return resource.stack, resource.logical_id


def written_by(resource: Resource, deployment: Deployment) -> bool:
    """Whether ``resource`` (a flow log, a WAF logging configuration) writes to a log group of the templates."""
    return any(source.origin == _key(resource) for sources in log_sources(deployment).values() for source in sources)


def agent_log_group_ids(fleet: Fleet) -> list[str]:
    """The log groups (logical IDs) the fleet's CloudWatch agent writes to: files and embedded-metric events."""
    config = fleet.agent_config or {}
    logs = config.get("logs", {})
    names = [
        item.get("log_group_name", "")
        for item in logs.get("logs_collected", {}).get("files", {}).get("collect_list", [])
    ]
    names.append(logs.get("metrics_collected", {}).get("prometheus", {}).get("log_group_name", ""))
    return [match.group(1) for name in names if (match := _REF.match(str(name)))]
