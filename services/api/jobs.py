"""Jobs as the API sees them: validate against the job-type contract, accept, look up.

Accepting writes the job and its outbox entry in one transaction and then sends the
message (:class:`services.jobs.Producer`), so a job is never lost even if SQS is down.
Without ``QUEUE_URL`` the API cannot accept jobs (503) but still reports existing ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from services.api.errors import ConflictError, InvalidRequestError, UnavailableError
from services.api.settings import ApiSettings
from services.jobs import IdempotencyConflictError, Job, JobStore, Producer, sqs_client
from services.jobs.types import validate_payload

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class JobsDisabledError(UnavailableError):
    """No queue is configured, so jobs cannot be accepted."""

    code = "jobs_disabled"


class JobsService:
    """The job store, and the producer when a queue is configured. Methods block: call them in a thread."""

    def __init__(self, store: JobStore, producer: Producer | None, sqs: SQSClient | None) -> None:
        self.store = store
        self.producer = producer
        self.sqs = sqs

    @classmethod
    def open(cls, engine: sa.Engine, settings: ApiSettings, *, sqs: SQSClient | None = None) -> JobsService:
        """Open the job store on ``engine`` (migrating it, or checking its version: ``DATABASE_MIGRATIONS``)."""
        store = JobStore(engine, migrate=settings.database_migrations == "apply")
        if settings.database_migrations == "check":
            store.check_schema()
        if not settings.queue_url:
            return cls(store, None, None)
        # Short timeouts: the client waits for this send; if SQS is slow the outbox relay sends the job later.
        client = sqs or sqs_client(queue_url=settings.queue_url, read_timeout=2, connect_timeout=1, max_attempts=2)
        return cls(store, Producer(store, client, settings.queue_url), client)

    @property
    def enabled(self) -> bool:
        """True if jobs can be accepted (a queue is configured)."""
        return self.producer is not None

    def submit(self, job_type: str, payload: dict[str, Any], idempotency_key: str | None) -> Job:
        """Validate and accept a job. Raises 422/409/503 errors naming the problem."""
        if self.producer is None:
            raise JobsDisabledError("jobs are not accepted by this node: QUEUE_URL is not set")
        try:
            validate_payload(job_type, payload)
            return self.producer.submit(job_type, payload, idempotency_key=idempotency_key)
        except IdempotencyConflictError as error:
            raise ConflictError(str(error)) from None
        except ValueError as error:
            raise InvalidRequestError(str(error)) from None

    def get(self, job_id: str) -> Job | None:
        """The job with ``job_id``, or None."""
        return self.store.get(job_id)

    def queue_reachable(self) -> None:
        """Ask SQS for the queue's ARN; raises if the queue cannot be reached."""
        if self.producer is not None and self.sqs is not None:
            self.sqs.get_queue_attributes(QueueUrl=self.producer.queue_url, AttributeNames=["QueueArn"])

    def close(self) -> None:
        """Release what the store created (the engine itself belongs to the node)."""
        self.store.close()
