"""The alarm set: what pages someone, each alarm notifying the alarm topic on ALARM and OK."""

from __future__ import annotations

from typing import Final

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.constructs.cache import Cache
from stacks.constructs.database import Database
from stacks.constructs.job_queue import JobQueue
from stacks.constructs.load_balancer import PublicLoadBalancer
from stacks.constructs.web_firewall import WebFirewall
from stacks.settings import ObservabilitySettings

ALB_5XX_PERCENT: Final = 5.0
DB_CPU_PERCENT: Final = 80.0
CACHE_MEMORY_PERCENT: Final = 80.0
GTE = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD


class Alarms(Construct):
    """Alarms on the load balancer, its firewall, the queue, Aurora and every cache member.

    ``alarms`` maps a stable name to each alarm: ``Alb5xxRate`` (5xx responses, from the ALB or
    the targets, as a percentage of requests), ``UnhealthyHosts``, ``WafBlockedRequests`` (per 5
    minutes), ``OldestMessageAge``, ``DeadLettersNotEmpty``, ``DatabaseCpu``, ``DatabaseConnections``,
    and per cache member ``CacheMemory<n>`` and ``CacheEvictions<n>``. Missing data never alarms
    (an idle system is fine).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topic: sns.ITopic,
        settings: ObservabilitySettings,
        load_balancer: PublicLoadBalancer,
        firewall: WebFirewall,
        jobs: JobQueue,
        database: Database,
        cache: Cache,
    ) -> None:
        super().__init__(scope, construct_id)
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        self._action = actions.SnsAction(topic)
        five_xx_rate = cloudwatch.MathExpression(
            expression="IF(requests > 0, 100 * (FILL(elb, 0) + FILL(targets, 0)) / requests, 0)",
            using_metrics={
                "requests": load_balancer.metric("RequestCount"),
                "elb": load_balancer.metric("HTTPCode_ELB_5XX_Count"),
                "targets": load_balancer.metric("HTTPCode_Target_5XX_Count"),
            },
            label="5xx responses (% of requests)",
            period=Duration.minutes(1),
        )
        self._add("Alb5xxRate", five_xx_rate, ALB_5XX_PERCENT, "More than 5% of requests failed with a 5xx", 5, 3)
        self._add(
            "UnhealthyHosts",
            load_balancer.target_metric("UnHealthyHostCount"),
            1,
            "Web instances fail the /healthz check",
            3,
            3,
        )
        self._add(
            "WafBlockedRequests",
            firewall.metric("BlockedRequests"),
            firewall.settings.blocked_alarm_requests,
            "AWS WAF blocks many requests: an attack, a misbehaving client, or a rule blocking real traffic "
            "(the WAF log group says which rule)",
            1,
            1,
        )
        self._add(
            "OldestMessageAge",
            jobs.metric_oldest_age(),
            settings.oldest_message_alarm_seconds,
            "Jobs wait in the queue longer than expected: workers are stuck or too few",
            5,
            5,
        )
        self._add(
            "DeadLettersNotEmpty",
            jobs.metric_visible(jobs.dead_letters),
            1,
            "Jobs failed maxReceiveCount times: inspect and redrive with the DLQ tool",
            1,
            1,
        )
        self._add("DatabaseCpu", database.metric("CPUUtilization"), DB_CPU_PERCENT, "Aurora CPU is high", 5, 5)
        self._add(
            "DatabaseConnections",
            database.metric("DatabaseConnections", "Maximum"),
            settings.db_connections_alarm,
            "Aurora connections approach max_connections at the maximum capacity",
            5,
            3,
        )
        for number, member in enumerate(cache.member_ids, start=1):
            self._add(
                f"CacheMemory{number}",
                cache.metric("DatabaseMemoryUsagePercentage", member, "Maximum"),
                CACHE_MEMORY_PERCENT,
                f"Cache member {number} is running out of memory",
                5,
                5,
            )
            self._add(
                f"CacheEvictions{number}",
                cache.metric("Evictions", member, "Sum"),
                1,
                f"Cache member {number} evicts keys: it is too small for the working set",
                5,
                5,
            )

    def _add(
        self,
        name: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        description: str,
        evaluation_periods: int,
        datapoints: int,
    ) -> None:
        alarm = cloudwatch.Alarm(
            self,
            name,
            metric=metric,
            threshold=threshold,
            comparison_operator=GTE,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=datapoints,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(self._action)
        alarm.add_ok_action(self._action)
        self.alarms[name] = alarm
