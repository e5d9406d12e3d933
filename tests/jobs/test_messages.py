"""The SQS message format shared by the producer, the schedules and the worker."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.jobs.spec import (
    PRECOMPUTE,
    MessageFormatError,
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
