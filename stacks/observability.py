"""The observability stack: the alarm topic, the alarm set and the operations dashboard."""

from __future__ import annotations

from aws_cdk import Environment, Stack
from constructs import Construct

from stacks.compute import ComputeStack
from stacks.constructs.alarm_topic import AlarmTopic
from stacks.constructs.alarms import Alarms
from stacks.constructs.dashboard import OperationsDashboard
from stacks.constructs.service_metrics import ServiceMetrics
from stacks.data import DataStack
from stacks.messaging import MessagingStack
from stacks.policies import removal_policy
from stacks.settings import Settings


class ObservabilityStack(Stack):
    """Watches the other stacks: :class:`Alarms` notify :class:`AlarmTopic`; :class:`OperationsDashboard`.

    The fleets' log groups live with the fleets (:class:`~stacks.constructs.fleet.Fleet`), so
    their roles can write to them without a dependency cycle; this stack only reads metrics.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        data: DataStack,
        messaging: MessagingStack,
        compute: ComputeStack,
        env: Environment | None,
    ) -> None:
        super().__init__(scope, construct_id, env=env, description=f"Alarms and dashboard ({settings.stage})")
        self.alarm_topic = AlarmTopic(
            self,
            "AlarmTopic",
            email=settings.observability.alarm_email,
            removal_policy=removal_policy(settings.protect_data),
        )
        self.alarms = Alarms(
            self,
            "Alarms",
            topic=self.alarm_topic.topic,
            settings=settings.observability,
            load_balancer=compute.load_balancer,
            firewall=compute.firewall,
            jobs=messaging.jobs,
            database=data.database,
            cache=data.cache,
        )
        self.dashboard = OperationsDashboard(
            self,
            "Dashboard",
            load_balancer=compute.load_balancer,
            firewall=compute.firewall,
            web=compute.web,
            worker=compute.worker,
            jobs=messaging.jobs,
            database=data.database,
            cache=data.cache,
            services=ServiceMetrics(compute.service_boot.namespace),
            alarms=list(self.alarms.alarms.values()),
        )
