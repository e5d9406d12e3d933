"""What a handler gets besides its payload, and what it may raise.

A handler is ``func(payload, ctx) -> result``: ``payload`` is what its job type's model made
of the job's payload (:meth:`services.jobs.types.JobType.validate`), ``ctx`` a
:class:`JobContext`, and ``result`` any JSON value, stored as the job's result. Raising
:class:`PermanentJobError` fails the job at once; :class:`JobCancelledError` (from
:meth:`JobContext.sleep` or :meth:`JobContext.check_cancelled`) releases it to another
worker; any other exception is retried with backoff.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from services.jobs.store import Effect, JobStore


class PermanentJobError(Exception):
    """A failure that retrying cannot fix: the job fails at once and its message is dead-lettered."""


class JobCancelledError(Exception):
    """Raised inside a handler when the worker stops before the job finished; the job is released."""


@dataclass(slots=True, kw_only=True)
class JobContext:
    """The running job, as its handler sees it.

    ``attempt`` counts the job's claims (1 on the first run); ``receive_count`` is how many
    times SQS delivered this message. ``store`` is the job store, for handlers that read or
    aggregate jobs. Writes that must happen exactly once go through :meth:`stage`.
    """

    job_id: str
    type: str
    attempt: int
    receive_count: int
    store: JobStore
    cancelled: threading.Event = field(default_factory=threading.Event)
    effects: list[Effect] = field(default_factory=list)

    def stage(self, effect: Effect) -> None:
        """Run ``effect(connection)`` in the transaction that records this job's success.

        It is committed only if this worker still holds the job, so a job delivered twice,
        or retried after a crash, leaves its effect exactly once.
        """
        self.effects.append(effect)

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or raise :class:`JobCancelledError` as soon as the worker stops the job."""
        if self.cancelled.wait(seconds):
            raise JobCancelledError(f"job {self.job_id} cancelled by worker shutdown")

    def check_cancelled(self) -> None:
        """Raise :class:`JobCancelledError` if the worker is stopping this job (for long loops)."""
        if self.cancelled.is_set():
            raise JobCancelledError(f"job {self.job_id} cancelled by worker shutdown")
