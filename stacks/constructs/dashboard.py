"""The operations dashboard: traffic, fleets, the queue and the data tier on one page."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from stacks.constructs.cache import Cache
from stacks.constructs.database import Database
from stacks.constructs.fleet import Fleet
from stacks.constructs.job_queue import JobQueue
from stacks.constructs.load_balancer import PublicLoadBalancer
from stacks.constructs.service_metrics import ServiceMetrics
from stacks.constructs.web_firewall import WebFirewall

WIDTH: Final = 8
HEIGHT: Final = 6


def _graph(
    title: str, left: Sequence[cloudwatch.IMetric], right: Sequence[cloudwatch.IMetric] = ()
) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(title=title, left=list(left), right=list(right), width=WIDTH, height=HEIGHT)


class OperationsDashboard(Construct):
    """A CloudWatch dashboard with the alarm states on top and one graph per question.

    Rows: alarm status; ALB requests, latency (p50/p99) and 5xx; healthy hosts and fleet sizes;
    queue depth, oldest-message age and DLQ depth; Aurora health; cache health per member;
    the services' own metrics from the instances' CloudWatch agent (jobs finished, item reads
    by cache tier, memory use); AWS WAF's blocked and allowed requests.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        load_balancer: PublicLoadBalancer,
        firewall: WebFirewall,
        web: Fleet,
        worker: Fleet,
        jobs: JobQueue,
        database: Database,
        cache: Cache,
        services: ServiceMetrics,
        alarms: Sequence[cloudwatch.IAlarm],
    ) -> None:
        super().__init__(scope, construct_id)
        latency = load_balancer.metric("TargetResponseTime", "Average")
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=Duration.hours(3))
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(alarms), width=3 * WIDTH, height=HEIGHT // 2)
        )
        self.dashboard.add_widgets(
            _graph("ALB requests", [load_balancer.metric("RequestCount")]),
            _graph(
                "ALB latency (s)",
                [latency.with_(statistic="p50", label="p50"), latency.with_(statistic="p99", label="p99")],
            ),
            _graph(
                "5xx responses",
                [load_balancer.metric("HTTPCode_ELB_5XX_Count"), load_balancer.metric("HTTPCode_Target_5XX_Count")],
            ),
        )
        self.dashboard.add_widgets(
            _graph(
                "Web targets",
                [load_balancer.target_metric("HealthyHostCount"), load_balancer.target_metric("UnHealthyHostCount")],
            ),
            _graph(
                "Fleet sizes (in service)",
                [web.metric_in_service().with_(label="web"), worker.metric_in_service().with_(label="worker")],
            ),
            _graph("Job queue depth", [jobs.metric_visible().with_(label="visible")], [jobs.metric_oldest_age()]),
        )
        self.dashboard.add_widgets(
            _graph("Dead-letter queue depth", [jobs.metric_visible(jobs.dead_letters).with_(label="dead letters")]),
            _graph(
                "Aurora",
                [database.metric("CPUUtilization"), database.metric("ServerlessDatabaseCapacity")],
                [database.metric("DatabaseConnections", "Maximum")],
            ),
            _graph(
                "Cache",
                [cache.metric("DatabaseMemoryUsagePercentage", member, "Maximum") for member in cache.member_ids],
                [cache.metric("Evictions", member, "Sum") for member in cache.member_ids],
            ),
        )
        self.dashboard.add_widgets(
            _graph("Jobs finished per minute (workers)", services.jobs()),
            _graph("Item reads per minute by tier (web)", services.item_reads()),
            _graph("Memory used % (highest instance)", services.memory()),
        )
        self.dashboard.add_widgets(
            _graph(
                "WAF requests per 5 min",
                [firewall.metric("BlockedRequests").with_(label="blocked")],
                [firewall.metric("AllowedRequests").with_(label="allowed")],
            ),
        )
