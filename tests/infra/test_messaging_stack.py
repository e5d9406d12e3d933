"""MessagingStack: the job queue and DLQ sized from the shared spec, and the off-peak schedule."""

from __future__ import annotations

import dataclasses
import json

import aws_cdk as cdk
from aws_cdk.assertions import Match, Template

from services.jobs.spec import PRECOMPUTE, QUEUE, parse_message_body, scheduled_message_body
from stacks.constructs.job_queue import JobQueue
from stacks.constructs.precompute_schedule import SCHEDULED_TIME
from tests.infra.conftest import Synthesized, listed

JOBS, DEAD_LETTERS = "JobQueueJobs138FC659", "JobQueueDeadLettersF6ABABE2"


def test_job_queue_follows_the_shared_spec(config: Synthesized) -> None:
    config.template("messaging").has_resource_properties(
        "AWS::SQS::Queue",
        {
            "VisibilityTimeout": QUEUE.visibility_timeout_seconds,
            "ReceiveMessageWaitTimeSeconds": QUEUE.receive_wait_seconds,
            "MessageRetentionPeriod": QUEUE.retention_seconds,
            "SqsManagedSseEnabled": True,
            "RedrivePolicy": {
                "deadLetterTargetArn": {"Fn::GetAtt": [DEAD_LETTERS, "Arn"]},
                "maxReceiveCount": QUEUE.max_receive_count,
            },
        },
    )
    config.template("messaging").has_resource_properties(
        "AWS::SQS::Queue", {"MessageRetentionPeriod": 14 * 24 * 3600, "SqsManagedSseEnabled": True}
    )


def test_both_queues_refuse_requests_without_tls(config: Synthesized) -> None:
    policies = config.resources("messaging", "AWS::SQS::QueuePolicy").values()
    protected = set()
    for policy in policies:
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}:
                protected |= {queue["Ref"] for queue in policy["Properties"]["Queues"]}
    assert protected == {JOBS, DEAD_LETTERS}


def test_queue_settings_come_from_the_spec_not_constants() -> None:
    stack = cdk.Stack(cdk.App())
    spec = dataclasses.replace(QUEUE, max_receive_count=9, visibility_timeout_seconds=300)
    JobQueue(stack, "JobQueue", spec=spec, removal_policy=cdk.RemovalPolicy.DESTROY)
    Template.from_stack(stack).has_resource_properties(
        "AWS::SQS::Queue",
        {"VisibilityTimeout": 300, "RedrivePolicy": Match.object_like({"maxReceiveCount": 9})},
    )


def test_schedule_sends_the_precompute_message_the_worker_parses(config: Synthesized) -> None:
    body = scheduled_message_body(PRECOMPUTE, "<aws.scheduler.scheduled-time>")
    config.template("messaging").has_resource_properties(
        "AWS::Scheduler::Schedule",
        {
            "ScheduleExpression": "cron(0 3 * * ? *)",
            "ScheduleExpressionTimezone": "Etc/UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "Target": Match.object_like(
                {
                    "Arn": {"Fn::GetAtt": [JOBS, "Arn"]},
                    "Input": body,
                    "DeadLetterConfig": {"Arn": {"Fn::GetAtt": [DEAD_LETTERS, "Arn"]}},
                }
            ),
        },
    )
    # What EventBridge Scheduler delivers once it has filled in the firing time.
    delivered = parse_message_body(body.replace(SCHEDULED_TIME, "2026-11-28T03:00:00Z"))
    assert delivered.type == PRECOMPUTE.job_type
    assert delivered.idempotency_key == "schedule:precompute:2026-11-28T03:00:00Z"


def test_scheduler_may_only_send_to_the_two_queues(dev: Synthesized) -> None:
    statements = [
        statement
        for policy in dev.resources("messaging", "AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    resources = sorted(json.dumps(resource) for statement in statements for resource in listed(statement["Resource"]))
    assert resources == [json.dumps({"Fn::GetAtt": [queue, "Arn"]}) for queue in (DEAD_LETTERS, JOBS)]
    assert {statement["Action"] for statement in statements} == {"sqs:SendMessage"}
