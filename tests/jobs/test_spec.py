"""The shared spec: the SQS message format (producer, schedules, worker) and the schedule's cron."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.jobs.spec import (
    PRECOMPUTE,
    MessageFormatError,
    ScheduleSpec,
    job_message_body,
    parse_message_body,
    scheduled_message_body,
)


def test_a_producer_message_parses_back() -> None:
    message = parse_message_body(job_message_body("j-1", "echo", {"a": [1, "b"]}))
    assert (message.job_id, message.type, message.payload, message.idempotency_key) == (
        "j-1",
        "echo",
        {"a": [1, "b"]},
        None,
    )


def test_a_scheduled_message_carries_its_key_and_no_job_id() -> None:
    message = parse_message_body(scheduled_message_body(PRECOMPUTE, "2026-01-01T03:00:00Z"))
    assert message.job_id is None
    assert message.type == "precompute"
    assert message.payload == PRECOMPUTE.payload
    assert message.idempotency_key == "schedule:precompute:2026-01-01T03:00:00Z"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("not json", "not valid JSON"),
        ("[1]", "JSON object"),
        ('{"v": 2, "type": "echo", "job_id": "j"}', "version"),
        ('{"v": 1, "job_id": "j"}', "'type'"),
        ('{"v": 1, "type": "echo", "job_id": "j", "payload": [1]}', "'payload'"),
        ('{"v": 1, "type": "echo", "job_id": 5}', "'job_id'"),
        ('{"v": 1, "type": "echo"}', "'job_id'"),
    ],
)
def test_malformed_bodies_are_refused_with_the_reason(body: str, problem: str) -> None:
    with pytest.raises(MessageFormatError, match=problem):
        parse_message_body(body)


@given(st.text() | st.binary().map(lambda b: b.decode("latin-1")))
def test_any_text_either_parses_or_raises_a_message_format_error(body: str) -> None:
    with contextlib.suppress(MessageFormatError):
        parse_message_body(body)


@pytest.mark.parametrize(
    ("cron", "expression"),
    [
        ("0 3 * * *", "cron(0 3 * * ? *)"),
        ("30 1 * * MON-FRI", "cron(30 1 ? * MON-FRI *)"),
        ("30 1 * * 1-5", "cron(30 1 ? * 2-6 *)"),  # Monday-Friday in both numberings
        ("0 0 * * 0,6", "cron(0 0 ? * 1,7 *)"),  # Sunday and Saturday
        ("0 0 * * 7", "cron(0 0 ? * 1 *)"),  # 7 is Sunday too in cron
        ("15 2 1 * *", "cron(15 2 1 * ? *)"),
    ],
)
def test_cron_becomes_the_same_eventbridge_schedule(cron: str, expression: str) -> None:
    assert ScheduleSpec(cron=cron, job_type="x").eventbridge_expression() == expression


@pytest.mark.parametrize(
    ("cron", "problem"), [("0 3 1 * MON", "both day-of-month and weekday"), ("0 3 * * */2", "steps")]
)
def test_schedules_eventbridge_cannot_express_are_refused(cron: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        ScheduleSpec(cron=cron, job_type="x").eventbridge_expression()


def test_a_cron_needs_five_fields() -> None:
    with pytest.raises(ValueError, match="five fields"):
        ScheduleSpec(cron="0 3 * *", job_type="x")


def test_the_scheduled_message_is_keyed_by_its_firing() -> None:
    body = json.loads(scheduled_message_body(PRECOMPUTE, "2026-11-27T03:00:00Z"))
    assert body == {
        "v": 1,
        "type": "precompute",
        "payload": PRECOMPUTE.payload,
        "idempotency_key": "schedule:precompute:2026-11-27T03:00:00Z",
    }
