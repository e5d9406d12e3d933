"""The queue and schedule settings that the CDK stacks and the local system share.

One source of truth: the messaging stack sizes the SQS queue from ``QUEUE``, the worker
heartbeats at ``QUEUE.heartbeat_seconds``, the local system (moto) creates its queues
from the same values, and the EventBridge schedule and the local scheduler both fire the
``precompute`` job on ``PRECOMPUTE.cron``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Final


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueSpec:
    """SQS job queue and dead-letter queue settings.

    The SQS developer guide's heartbeat advice: start with a visibility timeout of about
    2 minutes and, while still working, extend it by about 2 minutes every minute.

    Plain values, checked where they enter: the CDK context (``stacks/settings.py``) for the
    queue the stack creates, and the worker's settings (``services/worker/settings.py``,
    whose defaults these are) for how a worker consumes it.
    """

    visibility_timeout_seconds: int = 120
    heartbeat_seconds: int = 60
    max_receive_count: int = 5
    receive_wait_seconds: int = 20
    batch_size: int = 10
    retention_seconds: int = 4 * 24 * 3600
    dlq_retention_seconds: int = 14 * 24 * 3600


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleSpec:
    """An off-peak job: a five-field cron expression (UTC), the job type and its payload."""

    cron: str
    job_type: str
    payload: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.cron.split()) != 5:
            raise ValueError(f"schedule cron must have five fields (minute hour day month weekday), got {self.cron!r}")

    def eventbridge_expression(self) -> str:
        """The same schedule as an EventBridge ``cron(...)`` expression (six fields, one ``?``)."""
        minute, hour, day, month, weekday = self.cron.split()
        if "/" in weekday:
            raise ValueError(f"schedule weekday steps cannot be translated to EventBridge: {self.cron!r}")
        # cron numbers weekdays 0-6 (or 7) from Sunday, EventBridge 1-7 from Sunday; names agree.
        weekday = re.sub(r"\d+", lambda number: str(int(number.group()) % 7 + 1), weekday)
        if weekday == "*":
            weekday = "?"
        elif day == "*":
            day = "?"
        else:
            raise ValueError(f"EventBridge cannot restrict both day-of-month and weekday: {self.cron!r}")
        return f"cron({minute} {hour} {day} {month} {weekday} *)"

    def idempotency_key(self, scheduled_time: str) -> str:
        """The idempotency key of one firing, so a retried firing never makes a second job."""
        return f"schedule:{self.job_type}:{scheduled_time}"


QUEUE: Final = QueueSpec()
PRECOMPUTE: Final = ScheduleSpec(cron="0 3 * * *", job_type="precompute", payload={"top": 1000})


MESSAGE_VERSION: Final = 1
"""Version of the SQS message body.

A body is a JSON object: ``{"v": 1, "job_id": str, "type": str, "payload": object}`` when
the producer sent it (the job row exists), or ``{"v": 1, "type": str, "payload": object,
"idempotency_key": str}`` when a schedule sent it (no row yet: the worker creates one,
idempotently by the key, before running it).
"""


def scheduled_message_body(schedule: ScheduleSpec, scheduled_time: str) -> str:
    """The SQS message body one firing of ``schedule`` sends.

    The EventBridge schedule passes ``"<aws.scheduler.scheduled-time>"`` (filled in by
    EventBridge Scheduler at each firing); the local scheduler passes the ISO time.
    """
    return json.dumps(
        {
            "v": MESSAGE_VERSION,
            "type": schedule.job_type,
            "payload": schedule.payload,
            "idempotency_key": schedule.idempotency_key(scheduled_time),
        },
        sort_keys=True,
    )


MAX_MESSAGE_BYTES: Final = 256 * 1024
"""The largest message body the producer sends (SQS's long-standing limit; the payload is most of it)."""


class MessageFormatError(ValueError):
    """An SQS message body that is not a job message of a known version; the text says why."""


@dataclass(frozen=True, slots=True, kw_only=True)
class JobMessage:
    """A parsed message body: ``job_id`` is set when the producer sent it (the row exists),
    ``idempotency_key`` when a schedule sent it (the worker creates the row by that key)."""

    type: str
    payload: dict[str, Any]
    job_id: str | None = None
    idempotency_key: str | None = None


def job_message_body(job_id: str, job_type: str, payload: dict[str, Any]) -> str:
    """The SQS message body the producer (and the outbox relay) send for an accepted job."""
    return json.dumps({"v": MESSAGE_VERSION, "job_id": job_id, "type": job_type, "payload": payload}, sort_keys=True)


def parse_message_body(body: str) -> JobMessage:
    """Decode a message body of either form; raise :class:`MessageFormatError` naming the problem."""
    try:
        data = json.loads(body)
    except ValueError as error:
        raise MessageFormatError(f"message body is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise MessageFormatError(f"message body must be a JSON object, got {type(data).__name__}")
    if data.get("v") != MESSAGE_VERSION:
        raise MessageFormatError(f"message version must be {MESSAGE_VERSION}, got {data.get('v')!r}")
    job_type, payload = data.get("type"), data.get("payload", {})
    if not isinstance(job_type, str) or not job_type:
        raise MessageFormatError("message field 'type' must be a non-empty string")
    if not isinstance(payload, dict):
        raise MessageFormatError(f"message field 'payload' must be a JSON object, got {type(payload).__name__}")
    job_id, key = data.get("job_id"), data.get("idempotency_key")
    if job_id is not None and (not isinstance(job_id, str) or not job_id):
        raise MessageFormatError("message field 'job_id' must be a non-empty string")
    if key is not None and (not isinstance(key, str) or not key):
        raise MessageFormatError("message field 'idempotency_key' must be a non-empty string")
    if job_id is None and key is None:
        raise MessageFormatError("message must carry 'job_id' (producer) or 'idempotency_key' (schedule)")
    return JobMessage(type=job_type, payload=payload, job_id=job_id, idempotency_key=key)
