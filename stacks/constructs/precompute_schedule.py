"""The off-peak cron job: an EventBridge Scheduler schedule that puts a job message on the queue."""

from __future__ import annotations

from typing import Final

from aws_cdk import Duration, TimeZone
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from services.jobs.spec import ScheduleSpec, scheduled_message_body

SCHEDULED_TIME: Final = "<aws.scheduler.scheduled-time>"
"""EventBridge Scheduler replaces this context attribute with the firing's time in each message."""


class PrecomputeSchedule(Construct):
    """Sends ``scheduled_message_body(spec, <scheduled time>)`` to the job queue on ``spec``'s cron (UTC).

    The worker creates the job row idempotently from the body's key, so a retried firing never
    makes a second job. Deliveries that still fail after the retries go to ``dead_letter_queue``,
    from where the DLQ tool can redrive them like any other job message.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: ScheduleSpec,
        queue: sqs.IQueue,
        dead_letter_queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self.message_body = scheduled_message_body(spec, SCHEDULED_TIME)
        self.schedule = scheduler.Schedule(
            self,
            "Schedule",
            description=f"Off-peak {spec.job_type} job ({spec.cron} UTC)",
            schedule=scheduler.ScheduleExpression.expression(spec.eventbridge_expression(), TimeZone.ETC_UTC),
            target=targets.SqsSendMessage(
                queue,
                input=scheduler.ScheduleTargetInput.from_text(self.message_body),
                dead_letter_queue=dead_letter_queue,
                retry_attempts=5,
                max_event_age=Duration.hours(1),
            ),
            time_window=scheduler.TimeWindow.off(),
        )
