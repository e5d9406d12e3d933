"""Local queues carry the CDK stack's settings; the local scheduler sends what EventBridge sends."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime

import pytest

from services.jobs.spec import PRECOMPUTE, QUEUE, scheduled_message_body
from services.local.queues import create_queues
from services.local.scheduler import SchedulerSettings, fire, run
from services.settings import SettingsError, read_settings
from tests.support import wait_until


def test_queues_get_the_shared_settings_and_redrive(sqs_client) -> None:  # type: ignore[no-untyped-def]
    name = f"jobs-{uuid.uuid4().hex[:8]}"
    queues = create_queues(sqs_client, name=name)
    attributes = sqs_client.get_queue_attributes(QueueUrl=queues.jobs, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == str(QUEUE.visibility_timeout_seconds)
    assert attributes["MessageRetentionPeriod"] == str(QUEUE.retention_seconds)
    assert attributes["ReceiveMessageWaitTimeSeconds"] == str(QUEUE.receive_wait_seconds)
    redrive = json.loads(attributes["RedrivePolicy"])
    assert int(redrive["maxReceiveCount"]) == QUEUE.max_receive_count
    assert redrive["deadLetterTargetArn"].endswith(f"{name}-dlq")
    dlq = sqs_client.get_queue_attributes(QueueUrl=queues.dead_letters, AttributeNames=["All"])["Attributes"]
    assert dlq["MessageRetentionPeriod"] == str(QUEUE.dlq_retention_seconds)
    assert create_queues(sqs_client, name=name) == queues  # idempotent


def test_a_firing_sends_the_eventbridge_message(sqs_client) -> None:  # type: ignore[no-untyped-def]
    url = sqs_client.create_queue(QueueName=f"sched-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    key = fire(sqs_client, url, PRECOMPUTE, datetime(2026, 11, 27, 3, 0, tzinfo=UTC))
    assert key == "schedule:precompute:2026-11-27T03:00:00Z"
    body = sqs_client.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"][0]["Body"]
    assert body == scheduled_message_body(PRECOMPUTE, "2026-11-27T03:00:00Z")


def test_the_scheduler_fires_on_start_and_stops_when_told(sqs_client, moto_server, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    url = sqs_client.create_queue(QueueName=f"sched-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    stop = threading.Event()
    monkeypatch.setenv("QUEUE_URL", url)
    monkeypatch.setenv("SCHEDULER_FIRE_ON_START", "1")
    worker = threading.Thread(target=run, args=(read_settings(SchedulerSettings), stop))
    worker.start()
    try:
        messages = wait_until(
            lambda: sqs_client.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages"), timeout=30
        )
    finally:
        stop.set()  # else the thread waits for the next cron firing, past the end of the test
        worker.join(timeout=30)
    assert not worker.is_alive()  # it stopped when told, long before the next firing
    assert json.loads(messages[0]["Body"])["type"] == "precompute"


def test_a_bad_scheduler_setting_is_one_line_naming_it(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("QUEUE_URL", raising=False)
    monkeypatch.setenv("SCHEDULER_FIRE_ON_START", "maybe")
    with pytest.raises(SettingsError) as error:
        read_settings(SchedulerSettings)
    assert str(error.value) == (
        "setting QUEUE_URL is required; setting SCHEDULER_FIRE_ON_START is invalid: "
        "Input should be a valid boolean, unable to interpret input (got 'maybe')"
    )
