"""The job pipeline's neutral package, shared by the API and the worker.

The contract (cheap: pydantic at most, no SQLAlchemy, no boto3):

- :mod:`services.jobs.types`: declare job types, look them up, validate payloads;
- :mod:`services.jobs.demo` and :mod:`services.jobs.precompute`: the shipped types, and the
  precompute job's steps (:func:`~services.jobs.precompute.precompute_step`);
- :mod:`services.jobs.context`: what a handler receives (``JobContext``) and may raise;
- :mod:`services.jobs.spec`: the queue and schedule values and the message format (the
  standard library only: what the CDK stacks import).

The durable half: the job store, the producer with its outbox, the SQS client::

    from services.jobs import JobStore, Producer, Job, JobStatus

    store = JobStore.from_url(url)            # creates/migrates the schema; JobStore(engine) too
    job = store.get(job_id)                   # Job | None
    producer = Producer(store, sqs_client, queue_url)
    job = producer.submit("echo", {"x": 1}, idempotency_key=None)  # accepted even if SQS is down
    producer.relay_once()                     # send outbox entries that are due; returns the count

Those names load on first use (PEP 562 ``__getattr__``), so importing a contract module
never pulls in SQLAlchemy or boto3.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from services.jobs.aws import sqs_client
    from services.jobs.model import IdempotencyConflictError, Job, JobStatus, JobTypeStats
    from services.jobs.producer import Producer
    from services.jobs.store import DEFAULT_DATABASE_URL, Effect, JobStore

_HOMES = {
    "DEFAULT_DATABASE_URL": "services.jobs.store",
    "Effect": "services.jobs.store",
    "IdempotencyConflictError": "services.jobs.model",
    "Job": "services.jobs.model",
    "JobStatus": "services.jobs.model",
    "JobStore": "services.jobs.store",
    "JobTypeStats": "services.jobs.model",
    "Producer": "services.jobs.producer",
    "sqs_client": "services.jobs.aws",
}

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


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later lookups skip this function
    return value
