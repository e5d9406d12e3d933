"""The transactional outbox: jobs committed but not yet known to be on the queue.

A job and its outbox entry are written in one transaction; the entry is removed once the
message is sent. If the send fails (SQS unreachable) or the process dies first, the entry
stays, and the relay sends it once it is due. Several relays may run at once: each entry
is taken by one of them per round through a conditional UPDATE of its due time.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from services.jobs.model import JobStatus
from services.jobs.schema import job_outbox, jobs

_SENDABLE = (JobStatus.QUEUED.value, JobStatus.RETRYING.value)


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxEntry:
    """A job whose message the relay must send."""

    job_id: str
    type: str
    payload: dict[str, Any]
    sends: int


class Outbox:
    """Reads and writes ``job_outbox``; reached as ``JobStore.outbox``."""

    def __init__(self, autocommit: sa.Engine, *, clock: Callable[[], datetime]) -> None:
        self._auto = autocommit
        self._clock = clock

    def add(self, conn: sa.Connection, job_id: str, now: datetime, *, due: datetime) -> None:
        """Put a job created in the caller's transaction in the outbox, due at ``due``."""
        conn.execute(sa.insert(job_outbox).values(job_id=job_id, created_at=now, next_attempt_at=due, sends=0))

    def make_due(self, conn: sa.Connection, job_id: str, now: datetime) -> None:
        """Make a job's entry due at ``now`` inside the caller's transaction, adding one if it has none."""
        if not conn.execute(
            sa.update(job_outbox).where(job_outbox.c.job_id == job_id).values(next_attempt_at=now)
        ).rowcount:
            self.add(conn, job_id, now, due=now)

    def remove(self, job_ids: Collection[str]) -> None:
        """Forget entries whose message was sent."""
        if job_ids:
            with self._auto.connect() as conn:
                conn.execute(sa.delete(job_outbox).where(job_outbox.c.job_id.in_(list(job_ids))))

    def pending(self) -> list[str]:
        """Ids of every job still in the outbox, oldest first."""
        with self._auto.connect() as conn:
            return list(conn.execute(sa.select(job_outbox.c.job_id).order_by(job_outbox.c.created_at)).scalars())

    def take_due(self, *, retry_after_seconds: float, limit: int) -> list[OutboxEntry]:
        """Take up to ``limit`` entries that are due; a taken entry is due again after
        ``retry_after_seconds`` unless the sender removes it first.

        Entries of jobs already running or finished are dropped: their message did arrive.
        """
        now = self._clock()
        query = (
            sa.select(job_outbox.c.job_id, job_outbox.c.next_attempt_at, job_outbox.c.sends, jobs.c.type)
            .add_columns(jobs.c.payload, jobs.c.status)
            .join(jobs, jobs.c.id == job_outbox.c.job_id)
            .where(job_outbox.c.next_attempt_at <= now)
            .order_by(job_outbox.c.next_attempt_at)
            .limit(limit)
        )
        taken: list[OutboxEntry] = []
        stale: list[str] = []
        with self._auto.connect() as conn:
            for job_id, due_at, sends, job_type, payload, status in conn.execute(query).all():
                if status not in _SENDABLE:
                    stale.append(job_id)
                    continue
                claimed = conn.execute(
                    sa.update(job_outbox)
                    .where(job_outbox.c.job_id == job_id, job_outbox.c.next_attempt_at == due_at)
                    .values(next_attempt_at=now + timedelta(seconds=retry_after_seconds), sends=sends + 1)
                ).rowcount
                if claimed:
                    taken.append(OutboxEntry(job_id=job_id, type=job_type, payload=payload, sends=sends + 1))
        self.remove(stale)
        return taken
