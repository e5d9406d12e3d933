"""The shared queue and schedule settings."""

import json

import pytest

from services.jobs.spec import PRECOMPUTE, ScheduleSpec, scheduled_message_body


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
