"""What a job is: its status, and the immutable record of one job as the store last saw it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class JobStatus(StrEnum):
    """Where a job is in its life.

    ``queued`` → ``running`` → ``succeeded`` | ``failed``, with ``retrying`` between attempts
    (the message waits out its backoff). Only ``succeeded`` and ``failed`` are terminal.
    """

    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        """True for ``succeeded`` and ``failed``: no worker will run the job again by itself."""
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED)


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    """One row of the jobs table, read at one moment. Datetimes are timezone-aware UTC.

    ``payload`` and ``result`` are the decoded JSON; treat them as read-only. ``attempts``
    counts the times a worker claimed the job; ``lease_owner``/``lease_expires_at`` name the
    worker claim that holds it while it runs.
    """

    id: str
    type: str
    payload: dict[str, Any]
    status: JobStatus
    attempts: int
    result: Any
    error: str | None
    idempotency_key: str | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    run_ms: int | None
    lease_owner: str | None
    lease_expires_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        """The job as JSON-ready values (ISO 8601 times), without the lease internals."""
        return {
            "id": self.id,
            "type": self.type,
            "payload": self.payload,
            "status": self.status.value,
            "attempts": self.attempts,
            "result": self.result,
            "error": self.error,
            "idempotency_key": self.idempotency_key,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "run_ms": self.run_ms,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class JobTypeStats:
    """One row of the aggregate the ``precompute`` job rebuilds: a job type over a time window."""

    type: str
    window_start: datetime
    window_end: datetime
    total: int
    succeeded: int
    failed: int
    avg_run_ms: float | None
    max_run_ms: int | None
    computed_at: datetime

    @property
    def success_rate(self) -> float | None:
        """Succeeded ÷ finished in the window, or None when nothing finished."""
        return self.succeeded / self.total if self.total else None


class IdempotencyConflictError(ValueError):
    """An idempotency key was reused for a different job type or payload."""
