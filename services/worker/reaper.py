"""The reaper: the watcher that notices dead workers and unsent jobs.

On an interval (jittered, so a fleet doesn't step in lockstep) it requeues jobs whose lease
expired more than a grace period ago — their worker stopped heartbeating — through the
outbox, and runs the outbox relay, which sends jobs whose message was never sent. Every
worker runs one; the store's conditional updates make each recovery happen once.
"""

from __future__ import annotations

import random

import structlog
from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy.exc import SQLAlchemyError

from services.jobs import JobStore, Producer
from services.worker.periodic import Periodic

_log = structlog.get_logger(__name__)


class Reaper(Periodic):
    """Recovers abandoned jobs and relays the outbox on a thread of its own."""

    def __init__(
        self, *, store: JobStore, producer: Producer, interval: float, grace_seconds: float, max_attempts: int
    ) -> None:
        super().__init__("reaper")
        self._store = store
        self._producer = producer
        self._interval = interval
        self._grace = grace_seconds
        self._max_attempts = max_attempts

    def period(self) -> float:
        """The interval ±20%, so a fleet's reapers don't step in lockstep."""
        return self._interval * random.uniform(0.8, 1.2)

    def tick(self) -> None:
        """Requeue or fail abandoned jobs, then relay due outbox entries.

        Database or queue trouble is logged as a warning, and the next round tries again.
        """
        try:
            recovered = self._store.requeue_expired(grace_seconds=self._grace, max_attempts=self._max_attempts)
            for job_id, status in recovered.items():
                _log.warning("reaped job of a dead worker", job_id=job_id, status=status.value)
            self._producer.relay_once()
        except (SQLAlchemyError, BotoCoreError, ClientError) as error:
            _log.warning("reaper round failed", error=str(error))
