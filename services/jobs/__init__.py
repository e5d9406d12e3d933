"""The job pipeline's durable half: the job store, the producer with its outbox, the message format.

Public interface (used by the API and the worker)::

    from services.jobs import JobStore, Producer, Job, JobStatus

    store = JobStore.from_url(url)            # creates/migrates the schema; JobStore(engine) too
    job = store.get(job_id)                   # Job | None
    producer = Producer(store, sqs_client, queue_url)
    job = producer.submit("echo", {"x": 1}, idempotency_key=None)  # accepted even if SQS is down
    producer.relay_once()                     # send outbox entries that are due; returns the count
"""

from services.jobs.aws import sqs_client
from services.jobs.model import IdempotencyConflictError, Job, JobStatus, JobTypeStats
from services.jobs.producer import Producer
from services.jobs.store import DEFAULT_DATABASE_URL, Effect, JobStore

__all__ = [
    "DEFAULT_DATABASE_URL",
    "Effect",
    "IdempotencyConflictError",
    "Job",
    "JobStatus",
    "JobStore",
    "JobTypeStats",
    "Producer",
    "sqs_client",
]
