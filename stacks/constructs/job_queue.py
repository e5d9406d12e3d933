"""The SQS job queue and its dead-letter queue, sized from services/jobs/spec.py."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from services.jobs.spec import QueueSpec


class JobQueue(Construct):
    """A queue whose messages go to a dead-letter queue after ``max_receive_count`` receives.

    The visibility timeout is the worker's heartbeat lease (``spec.visibility_timeout_seconds``,
    longer than ``spec.heartbeat_seconds``); consumers long-poll for ``receive_wait_seconds``.
    Both queues are encrypted with SQS-managed keys and deny any request not made over TLS.
    """

    def __init__(self, scope: Construct, construct_id: str, *, spec: QueueSpec, removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, construct_id)
        self.spec = spec
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            retention_period=Duration.seconds(spec.dlq_retention_seconds),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            removal_policy=removal_policy,
        )
        self.queue = sqs.Queue(
            self,
            "Jobs",
            visibility_timeout=Duration.seconds(spec.visibility_timeout_seconds),
            receive_message_wait_time=Duration.seconds(spec.receive_wait_seconds),
            retention_period=Duration.seconds(spec.retention_seconds),
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=spec.max_receive_count, queue=self.dead_letters),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            removal_policy=removal_policy,
        )

    def grant_produce(self, grantee: iam.IGrantable) -> None:
        """What the web fleet needs: send jobs."""
        self.queue.grant_send_messages(grantee)

    def grant_work(self, grantee: iam.IGrantable) -> None:
        """What the worker fleet needs: consume and heartbeat jobs, relay its outbox, and redrive the DLQ."""
        self.queue.grant_consume_messages(grantee)
        self.queue.grant_send_messages(grantee)
        self.dead_letters.grant_consume_messages(grantee)
        # The DLQ tool's redrive: SQS's own move task, authorised on the source (the DLQ).
        self.dead_letters.grant(
            grantee, "sqs:StartMessageMoveTask", "sqs:ListMessageMoveTasks", "sqs:CancelMessageMoveTask"
        )

    def metric_visible(self, queue: sqs.IQueue | None = None) -> cloudwatch.Metric:
        """Messages waiting in ``queue`` (default: the job queue)."""
        return (queue or self.queue).metric_approximate_number_of_messages_visible(
            statistic="Maximum", period=Duration.minutes(1)
        )

    def metric_oldest_age(self) -> cloudwatch.Metric:
        """Age in seconds of the oldest job waiting."""
        return self.queue.metric_approximate_age_of_oldest_message(statistic="Maximum", period=Duration.minutes(1))
