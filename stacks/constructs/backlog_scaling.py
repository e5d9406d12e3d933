"""Target tracking on the queue backlog per instance (metric math, hence the L1 policy)."""

from __future__ import annotations

from typing import Final

from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_sqs as sqs
from aws_cdk.aws_autoscaling import CfnScalingPolicy
from constructs import Construct

BACKLOG_EXPRESSION: Final = "visible / IF(in_service > 0, in_service, 1)"
"""Messages waiting per in-service instance; with no instance in service, the whole backlog."""


class BacklogScaling(Construct):
    """Keeps ``ApproximateNumberOfMessagesVisible ÷ GroupInServiceInstances`` near ``backlog_per_instance``.

    The target comes from the Auto Scaling guide: acceptable latency ÷ time per message
    (10 s ÷ 0.1 s = 100 messages per instance). The L2 ``scale_to_track_metric`` rejects a
    math expression, so this is a ``CfnScalingPolicy`` with metric data queries; the group
    must publish its metrics (``Fleet`` turns them on).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        group: autoscaling.AutoScalingGroup,
        queue: sqs.IQueue,
        backlog_per_instance: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.policy = CfnScalingPolicy(
            self,
            "Policy",
            auto_scaling_group_name=group.auto_scaling_group_name,
            policy_type="TargetTrackingScaling",
            target_tracking_configuration=CfnScalingPolicy.TargetTrackingConfigurationProperty(
                target_value=float(backlog_per_instance),
                customized_metric_specification=CfnScalingPolicy.CustomizedMetricSpecificationProperty(
                    metrics=[
                        _metric_query(
                            "visible",
                            "AWS/SQS",
                            "ApproximateNumberOfMessagesVisible",
                            "Sum",
                            QueueName=queue.queue_name,
                        ),
                        _metric_query(
                            "in_service",
                            "AWS/AutoScaling",
                            "GroupInServiceInstances",
                            "Average",
                            AutoScalingGroupName=group.auto_scaling_group_name,
                        ),
                        CfnScalingPolicy.TargetTrackingMetricDataQueryProperty(
                            id="backlog_per_instance",
                            expression=BACKLOG_EXPRESSION,
                            label="Messages waiting per in-service worker",
                            return_data=True,
                        ),
                    ]
                ),
            ),
        )


def _metric_query(
    query_id: str, namespace: str, name: str, stat: str, **dimensions: str
) -> CfnScalingPolicy.TargetTrackingMetricDataQueryProperty:
    """One input of the math expression (not returned itself)."""
    return CfnScalingPolicy.TargetTrackingMetricDataQueryProperty(
        id=query_id,
        metric_stat=CfnScalingPolicy.TargetTrackingMetricStatProperty(
            metric=CfnScalingPolicy.MetricProperty(
                namespace=namespace,
                metric_name=name,
                dimensions=[
                    CfnScalingPolicy.MetricDimensionProperty(name=key, value=value) for key, value in dimensions.items()
                ],
            ),
            stat=stat,
        ),
        return_data=False,
    )
