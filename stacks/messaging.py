"""The messaging stack (stateful): the job queue, its DLQ and the off-peak schedule that feeds it."""

from __future__ import annotations

from aws_cdk import Environment
from constructs import Construct

from stacks.constructs.job_queue import JobQueue
from stacks.constructs.precompute_schedule import PrecomputeSchedule
from stacks.policies import removal_policy
from stacks.settings import Settings
from stacks.stateful import StatefulStack


class MessagingStack(StatefulStack):
    """:class:`JobQueue` between the web and worker fleets, and the :class:`PrecomputeSchedule` producer."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings, env: Environment | None) -> None:
        super().__init__(
            scope,
            construct_id,
            settings=settings,
            description="SQS job queue, dead-letter queue and off-peak schedule",
            env=env,
        )
        self.jobs = JobQueue(
            self, "JobQueue", spec=settings.queue, removal_policy=removal_policy(settings.protect_data)
        )
        self.precompute = PrecomputeSchedule(
            self,
            "Precompute",
            spec=settings.precompute.schedule,
            queue=self.jobs.queue,
            dead_letter_queue=self.jobs.dead_letters,
        )
