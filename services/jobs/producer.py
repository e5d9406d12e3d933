"""The producer: accept a job (row + outbox entry in one transaction), then put it on the queue.

Nothing accepted is lost: if SQS cannot be reached, or the process dies between the commit
and the send, the outbox entry remains and :meth:`Producer.relay_once` sends it later
(the worker runs the relay on an interval; the API may too). A message sent twice is
harmless: the worker's claim is conditional, so a job runs to completion once.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import structlog
from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy.exc import SQLAlchemyError

from services.jobs.model import Job
from services.jobs.spec import MAX_MESSAGE_BYTES, job_message_body
from services.jobs.store import JobStore

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

_log = structlog.get_logger(__name__)

MAX_TYPE_CHARS = 64
MAX_KEY_CHARS = 200
_ENVELOPE_BYTES = 200  # the message fields around the payload: version, job id, type


class Producer:
    """Submits jobs to the store and the queue.

    ``relay_after_seconds``: how long a fresh outbox entry waits before the relay may send
    it (the submitting request normally sends and removes it well within that time).
    ``relay_retry_seconds``: how long a relay waits before sending an entry it took again.
    Thread-safe if the SQS client is (boto3 clients are).
    """

    def __init__(
        self,
        store: JobStore,
        sqs_client: SQSClient,
        queue_url: str,
        *,
        relay_after_seconds: float = 10.0,
        relay_retry_seconds: float = 30.0,
    ) -> None:
        self._store = store
        self._sqs = sqs_client
        self._queue_url = queue_url
        self._relay_after = relay_after_seconds
        self._relay_retry = relay_retry_seconds

    @property
    def queue_url(self) -> str:
        """The queue this producer sends to."""
        return self._queue_url

    def submit(self, type: str, payload: dict[str, Any], idempotency_key: str | None = None) -> Job:  # noqa: A002
        """Accept a job and queue it; return the job (``queued``).

        With an ``idempotency_key`` already used, returns the job it created (no new row, no
        new message). Raises ``ValueError`` naming the field for a bad type, payload or key,
        and :class:`~services.jobs.model.IdempotencyConflictError` when the key was used for a
        different job. If the queue is unreachable the job is still accepted: the relay sends it.
        """
        _validate(type, payload, idempotency_key)
        job, created = self._store.create(
            type, payload, idempotency_key=idempotency_key, outbox_after=self._relay_after
        )
        if not created:
            return job
        log = _log.bind(job_id=job.id, type=type)
        try:
            self._sqs.send_message(QueueUrl=self._queue_url, MessageBody=job_message_body(job.id, type, payload))
        except (BotoCoreError, ClientError) as error:
            log.warning("queue unreachable; the outbox relay will send the job", error=str(error))
            return job
        try:
            self._store.outbox.remove([job.id])
        except SQLAlchemyError as error:
            # The message is on the queue; the relay will send a duplicate, which the worker skips.
            log.warning("could not clear the outbox entry", error=str(error))
        return job

    def relay_once(self, limit: int = 100) -> int:
        """Send the outbox entries that are due (in batches of 10); return how many were sent."""
        entries = self._store.outbox.take_due(retry_after_seconds=self._relay_retry, limit=limit)
        sent: list[str] = []
        for start in range(0, len(entries), 10):
            chunk = entries[start : start + 10]
            try:
                response = self._sqs.send_message_batch(
                    QueueUrl=self._queue_url,
                    Entries=[
                        {"Id": str(i), "MessageBody": job_message_body(entry.job_id, entry.type, entry.payload)}
                        for i, entry in enumerate(chunk)
                    ],
                )
            except (BotoCoreError, ClientError) as error:
                _log.warning("outbox relay could not reach the queue", error=str(error), pending=len(entries) - start)
                break
            for ok in response.get("Successful", []):
                sent.append(chunk[int(ok["Id"])].job_id)
            for failed in response.get("Failed", []):
                _log.warning("outbox relay send failed", job_id=chunk[int(failed["Id"])].job_id, code=failed["Code"])
        self._store.outbox.remove(sent)
        if sent:
            _log.info("outbox relay sent jobs", count=len(sent))
        return len(sent)


def _validate(job_type: str, payload: Any, idempotency_key: str | None) -> None:
    if not isinstance(job_type, str) or not job_type or len(job_type) > MAX_TYPE_CHARS:
        raise ValueError(f"job field 'type' must be a non-empty string of at most {MAX_TYPE_CHARS} characters")
    if not isinstance(payload, dict):
        raise ValueError(f"job field 'payload' must be a JSON object, got {type(payload).__name__}")
    if idempotency_key is not None and (not idempotency_key or len(idempotency_key) > MAX_KEY_CHARS):
        raise ValueError(f"idempotency key must be 1..{MAX_KEY_CHARS} characters")
    try:
        encoded = json.dumps(payload, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(f"job field 'payload' is not valid JSON: {error}") from None
    if len(encoded.encode()) > MAX_MESSAGE_BYTES - _ENVELOPE_BYTES:
        raise ValueError(f"job field 'payload' is too large: at most {MAX_MESSAGE_BYTES - _ENVELOPE_BYTES} bytes")
