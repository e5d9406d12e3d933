"""The services' own metrics as CloudWatch receives them from the instances' CloudWatch agent.

The agent (deploy/cloudwatch/*.json) scrapes each service's Prometheus endpoint and sends the
selected series as embedded-metric-format logs: counters arrive as per-minute deltas (so
``Sum`` over a period counts what happened in it), with the ``Fleet`` dimension (and ``tier``
for item reads). Memory and disk use come from the agent's own collectors, per fleet.
"""

from __future__ import annotations

from typing import Final

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch

ITEM_READ_TIERS: Final = ("local", "redis", "db", "missing")
"""The ``tier`` label of ``api_item_reads_total`` (services/api/metrics.py)."""


class ServiceMetrics:
    """Metrics in ``namespace`` (one per stage, see :func:`~stacks.constructs.service_boot.metrics_namespace`)."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace

    def metric(self, name: str, fleet: str, *, statistic: str = "Sum", **dimensions: str) -> cloudwatch.Metric:
        """``name`` (a Prometheus series name, or an agent metric such as ``mem_used_percent``) of ``fleet``."""
        return cloudwatch.Metric(
            namespace=self.namespace,
            metric_name=name,
            dimensions_map={"Fleet": fleet, **dimensions},
            statistic=statistic,
            period=Duration.minutes(1),
        )

    def jobs(self) -> list[cloudwatch.Metric]:
        """Jobs finished per minute on the worker fleet: succeeded, retried, failed."""
        return [
            self.metric(f"worker_jobs_{outcome}_total", "worker").with_(label=outcome)
            for outcome in ("succeeded", "retried", "failed")
        ]

    def item_reads(self) -> list[cloudwatch.Metric]:
        """Item reads per minute on the web fleet, by the tier that answered (local LRU, Redis, database)."""
        return [self.metric("api_item_reads_total", "web", tier=tier).with_(label=tier) for tier in ITEM_READ_TIERS]

    def memory(self) -> list[cloudwatch.Metric]:
        """The highest memory use (%) of an instance in each fleet."""
        return [
            self.metric("mem_used_percent", fleet, statistic="Maximum").with_(label=fleet)
            for fleet in ("web", "worker")
        ]
