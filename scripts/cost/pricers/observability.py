"""CloudWatch: log ingestion and storage per log group, the agents' custom metrics, alarms and dashboards."""

from __future__ import annotations

from math import prod
from typing import Any, Final

from cost import prices
from cost.deployment import Deployment, Pricer
from cost.fleets import Fleet, fleet_of
from cost.logs import LogSource, flow_log_gb, log_sources, waf_log_gb, written_by
from cost.model import Line, Resource, line, qty

METRIC_LABEL_VALUES: Final = {"Fleet": 1, "tier": 4}
"""Values a dimension of the agent's metric declarations takes within one fleet: ``Fleet`` is the fleet's own
name; ``tier`` is the tier that answered an item read (services/api/metrics.py: local, redis, db, missing)."""
PER_INSTANCE_DIMENSIONS: Final = frozenset({"InstanceId", "InstanceType", "ImageId"})
NEVER_EXPIRES_DAYS: Final = 365
"""Log groups that keep their logs forever are priced at one year's worth."""


def log_group(group: Resource, deployment: Deployment) -> list[Line]:
    """Ingestion of what its writers send, and storage of what its retention keeps."""
    sources = log_sources(deployment).get((group.stack, group.logical_id), [])
    if not sources:
        return [line(group, "observability", "no writer known to the estimate: nothing priced", 0.0)]
    a = deployment.assumptions
    retention = group.get("RetentionInDays")
    days = float(retention) if retention is not None else NEVER_EXPIRES_DAYS
    kept = "kept forever (priced at one year)" if retention is None else f"kept {qty(days)} d"

    def month(gb: float) -> float:
        stored = gb * a.log_compression * days / prices.DAYS_PER_MONTH
        return gb * prices.CW_LOGS_INGEST_GB + stored * prices.CW_LOGS_STORAGE_GB_MONTH

    gb = sum(source.gb for source in sources)
    gb_ceiling = sum(source.gb_ceiling for source in sources)
    return [
        line(
            group, "observability", f"{qty(gb)} GB/month from {_writers(sources)}, {kept}", month(gb), month(gb_ceiling)
        )
    ]


def _writers(sources: list[LogSource]) -> str:
    return " + ".join(dict.fromkeys(source.what for source in sources))


def flow_log(resource: Resource, deployment: Deployment) -> list[Line]:
    """Nothing when its log group is in the templates (priced there); otherwise its ingestion here."""
    if written_by(resource, deployment):
        return []
    gb, gb_ceiling = flow_log_gb(resource, deployment)
    cost = prices.CW_LOGS_INGEST_GB
    return [
        line(resource, "observability", f"{qty(gb)} GB/month of flow logs, ingestion", gb * cost, gb_ceiling * cost)
    ]


def waf_logging(resource: Resource, deployment: Deployment) -> list[Line]:
    """Nothing when its log group is in the templates (priced there); otherwise its ingestion here."""
    if written_by(resource, deployment):
        return []
    gb = waf_log_gb(resource, deployment)
    return [
        line(resource, "observability", f"{qty(gb)} GB/month of WAF logs, ingestion", gb * prices.CW_LOGS_INGEST_GB)
    ]


def fleet_metrics(group: Resource, deployment: Deployment) -> list[Line]:
    """The custom metrics the fleet's CloudWatch agent publishes, and EC2 detailed monitoring when it is on."""
    fleet = fleet_of(group, deployment)
    lines = []
    count, count_ceiling, unknown = agent_metric_count(fleet)
    if count:
        note = f"; dimensions assumed single-valued: {', '.join(unknown)}" if unknown else ""
        lines.append(
            line(
                group,
                "observability",
                f"{qty(count)} custom metrics from the CloudWatch agent config{note}",
                count * prices.CW_CUSTOM_METRIC_MONTH,
                count_ceiling * prices.CW_CUSTOM_METRIC_MONTH,
            )
        )
    if (fleet.launch_data.get("Monitoring") or {}).get("Enabled") in (True, "true"):
        per_instance = prices.EC2_DETAILED_MONITORING_INSTANCE_MONTH
        lines.append(
            line(
                group,
                "observability",
                f"EC2 detailed monitoring, {qty(fleet.baseline)} instances",
                per_instance * fleet.baseline,
                per_instance * fleet.max_size,
            )
        )
    return lines


def agent_metric_count(fleet: Fleet) -> tuple[float, float, list[str]]:
    """Metrics the agent config publishes (baseline, ceiling) and the dimensions whose values it had to guess.

    Collected system metrics count once per measurement and resource, per instance when a
    dimension names the instance (the host name unless ``omit_hostname``); the Prometheus
    series count once per selector and per value of their dimensions.
    """
    config = fleet.agent_config or {}
    metrics = config.get("metrics", {})
    per_instance = not config.get("agent", {}).get("omit_hostname", False) or bool(
        PER_INSTANCE_DIMENSIONS & set(metrics.get("append_dimensions", {}))
    )
    system = 0
    for spec in metrics.get("metrics_collected", {}).values():
        resources = spec.get("resources") or ["-"]
        system += len(spec.get("measurement", [])) * (1 if "*" in resources else len(resources))
    system *= 1 + len(metrics.get("aggregation_dimensions", []))
    unknown: list[str] = []
    series = 0
    prometheus = config.get("logs", {}).get("metrics_collected", {}).get("prometheus", {})
    for declaration in prometheus.get("emf_processor", {}).get("metric_declaration", []):
        for dimensions in declaration.get("dimensions", []):
            unknown += [d for d in dimensions if d not in METRIC_LABEL_VALUES and d not in unknown]
            values = prod(METRIC_LABEL_VALUES.get(d, 1) for d in dimensions)
            series += len(declaration.get("metric_selectors", [])) * values
    factor, factor_ceiling = (fleet.baseline, fleet.max_size) if per_instance else (1, 1)
    return system * factor + series, system * factor_ceiling + series, unknown


def alarm(resource: Resource, deployment: Deployment) -> list[Line]:
    """$0.10 per metric a month (math alarms pay for each metric they read), $0.30 at high resolution."""
    metrics: list[dict[str, Any]] = resource.get("Metrics") or []
    stats = [m["MetricStat"] for m in metrics if "MetricStat" in m]
    count = len(stats) if metrics else 1
    periods = [float(stat.get("Period", 60)) for stat in stats] if metrics else [float(resource.get("Period", 60))]
    high = min(periods) < 60
    each = prices.CW_HIGH_RESOLUTION_ALARM_METRIC_MONTH if high else prices.CW_ALARM_METRIC_MONTH
    kind = "high-resolution" if high else "standard"
    return [line(resource, "observability", f"alarm on {count} metric{'s' * (count > 1)}, {kind}", count * each)]


def composite_alarm(resource: Resource, deployment: Deployment) -> list[Line]:
    """A composite alarm."""
    return [line(resource, "observability", "composite alarm", prices.CW_COMPOSITE_ALARM_MONTH)]


def dashboard(resource: Resource, deployment: Deployment) -> list[Line]:
    """A dashboard (the account's first three are free; not applied)."""
    return [line(resource, "observability", "dashboard", prices.CW_DASHBOARD_MONTH)]


def metric_filter(resource: Resource, deployment: Deployment) -> list[Line]:
    """Each metric a filter publishes is a custom metric."""
    count = len(resource.get("MetricTransformations") or [])
    return [
        line(
            resource,
            "observability",
            f"{count} custom metrics from a metric filter",
            count * prices.CW_CUSTOM_METRIC_MONTH,
        )
    ]


PRICERS: Final[dict[str, list[Pricer]]] = {
    "AWS::Logs::LogGroup": [log_group],
    "AWS::EC2::FlowLog": [flow_log],
    "AWS::WAFv2::LoggingConfiguration": [waf_logging],
    "AWS::AutoScaling::AutoScalingGroup": [fleet_metrics],
    "AWS::CloudWatch::Alarm": [alarm],
    "AWS::CloudWatch::CompositeAlarm": [composite_alarm],
    "AWS::CloudWatch::Dashboard": [dashboard],
    "AWS::Logs::MetricFilter": [metric_filter],
}
