"""The job queue and its dead-letter queue, created locally with the settings the CDK stack uses.

Both read :data:`services.jobs.spec.QUEUE`, so moto's queues on one machine behave like the
deployed ones: the same visibility timeout, retention, long-poll wait and redrive policy.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, NamedTuple

from services.jobs.spec import QUEUE, QueueSpec

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class Queues(NamedTuple):
    """The URLs of the job queue and its dead-letter queue."""

    jobs: str
    dead_letters: str


def create_queues(sqs: SQSClient, *, name: str = "jobs", spec: QueueSpec = QUEUE) -> Queues:
    """Create (or find) ``name`` and ``name-dlq`` with ``spec``'s attributes and redrive policy."""
    dlq_url = sqs.create_queue(
        QueueName=f"{name}-dlq", Attributes={"MessageRetentionPeriod": str(spec.dlq_retention_seconds)}
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(spec.max_receive_count)}
    url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": str(spec.visibility_timeout_seconds),
            "MessageRetentionPeriod": str(spec.retention_seconds),
            "ReceiveMessageWaitTimeSeconds": str(spec.receive_wait_seconds),
            "RedrivePolicy": json.dumps(redrive),
        },
    )["QueueUrl"]
    return Queues(url, dlq_url)
