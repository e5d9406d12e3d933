"""The local stand-in for the EventBridge schedule: ``python -m services.local.scheduler``.

At every firing of ``PRECOMPUTE.cron`` (UTC) it sends the very message the EventBridge
schedule sends in AWS — a job without a row yet, keyed by its scheduled time — so the worker
path is the same in both places: the worker creates the job once, then runs it.
Settings: ``QUEUE_URL`` (required), ``SCHEDULER_FIRE_ON_START`` (also fire once at start).
"""

from __future__ import annotations

import signal
import sys
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import structlog
from croniter import croniter
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.jobs import sqs_client
from services.jobs.spec import PRECOMPUTE, ScheduleSpec, scheduled_message_body
from services.logs import configure_logging
from services.settings import SettingsError, read_settings

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

log = structlog.get_logger(__name__)


class SchedulerSettings(BaseSettings):
    """Environment variables of the local scheduler. Field ``x_y`` is variable ``X_Y``."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    queue_url: str = Field(min_length=1, description="the SQS job queue the firings go to")
    scheduler_fire_on_start: bool = Field(default=False, description="fire once at start, then on the cron")
    log_json: bool = Field(default=True, description="JSON log lines (false: readable console lines)")


def fire(sqs: SQSClient, queue_url: str, schedule: ScheduleSpec, when: datetime) -> str:
    """Send one firing's message; return its idempotency key."""
    scheduled_time = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    sqs.send_message(QueueUrl=queue_url, MessageBody=scheduled_message_body(schedule, scheduled_time))
    return schedule.idempotency_key(scheduled_time)


def run(settings: SchedulerSettings, stop: threading.Event, schedule: ScheduleSpec = PRECOMPUTE) -> None:
    """Fire ``schedule`` at its cron times until ``stop`` is set."""
    sqs = sqs_client(queue_url=settings.queue_url)
    if settings.scheduler_fire_on_start:
        log.info("fired", key=fire(sqs, settings.queue_url, schedule, datetime.now(UTC)), reason="start")
    times = croniter(schedule.cron, datetime.now(UTC))
    while True:
        due = times.get_next(datetime)
        log.info("next firing", job_type=schedule.job_type, at=due.isoformat())
        if stop.wait((due - datetime.now(UTC)).total_seconds()):
            return
        log.info("fired", key=fire(sqs, settings.queue_url, schedule, due), reason="cron")


def main() -> None:
    """Read the settings, then fire the schedule until SIGTERM or SIGINT."""
    try:
        settings = read_settings(SchedulerSettings)
    except SettingsError as error:
        sys.exit(f"scheduler: {error}")
    configure_logging("scheduler", json=settings.log_json)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    run(settings, stop)


if __name__ == "__main__":
    main()
