"""The worker: long-poll SQS, claim each job in the database, run its handler, acknowledge.

The life of one message here:

1. Received in a batch (long poll, up to 10) and held: the heartbeat now extends it.
2. Parsed. A body that isn't a job message is poison: released at once, every time, so the
   redrive policy moves it to the DLQ after ``maxReceiveCount`` receives — never a crash loop.
   A schedule's message creates its job row first, idempotently by its key.
3. Claimed — one conditional UPDATE for the whole batch. A job already done is a duplicate
   (its message is deleted); a job leased to a live worker is left to it; a failed job's
   message goes on to the DLQ, unless it arrives for the first time (a redrive): then it runs again.
4. Run by a job thread. Success is recorded (with any staged effects, only if the lease is
   still ours) and the message deleted in a batch. A failure is recorded and the message
   hidden for an exponential backoff with jitter; on the message's last allowed receive, or
   for a permanent error, the job is marked failed and the message released for the DLQ
   (the policy, pure and table-tested, is :mod:`services.worker.retry`).

``stop()`` (SIGTERM) drains: no more receives, messages not yet started are released at
once, running jobs get ``WORKER_DRAIN_SECONDS`` to finish, and the rest are released; then the
termination lifecycle action is completed when the instance is terminating.
"""

from __future__ import annotations

import itertools
import json
import queue
import random
import threading
import time
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import structlog
from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy.exc import SQLAlchemyError

from services.jobs import IdempotencyConflictError, Job, JobStatus, JobStore, Producer
from services.jobs.context import JobCancelledError, JobContext, PermanentJobError
from services.jobs.spec import JobMessage, MessageFormatError, parse_message_body
from services.jobs.types import InvalidPayloadError, UnknownJobTypeError, get_job_type
from services.worker.acks import Acker
from services.worker.heartbeat import Heartbeat
from services.worker.inflight import Held, Inflight, State
from services.worker.lifecycle import InstanceMetadata, Lifecycle
from services.worker.metrics import WorkerMetrics
from services.worker.reaper import Reaper
from services.worker.registry import MissingHandlerError, check_every_type_bound, handler_for, load_handlers
from services.worker.retry import ErrorKind, Verdict, backoff_seconds, decide, last_receive
from services.worker.settings import WorkerSettings

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

_log = structlog.get_logger(__name__)
_SHORT_POLL_PAUSE = 0.1


class WorkerStartError(RuntimeError):
    """The worker cannot start (its queue is unreachable or misconfigured); the text says why."""


class Worker:
    """One worker process's consumer (see the module doc). :meth:`stop` is thread-safe.

    ``settings`` (the queue, timings, limits) are read as they are: their checks ran when
    they were built. Counts are in ``worker.metrics`` (``worker.metrics.jobs_retried`` and so on).
    """

    def __init__(
        self,
        *,
        store: JobStore,
        sqs: SQSClient,
        settings: WorkerSettings,
        metrics: WorkerMetrics | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics if metrics is not None else WorkerMetrics()
        self._store = store
        self._sqs = sqs
        self._queue_url = settings.queue_url
        self._rng = rng or random.Random()
        self._inflight = Inflight()
        self._jobs: queue.SimpleQueue[Held | None] = queue.SimpleQueue()
        self._claims = itertools.count(1)
        self._idle = threading.Condition()
        self._executing = 0
        self._stopping = threading.Event()
        self.receiving = threading.Event()
        """Set once the worker has started receiving (for tests and supervisors)."""
        self._acker = Acker(
            sqs,
            settings.queue_url,
            batched=settings.worker_batch_size > 1,
            flush_seconds=settings.worker_ack_flush_seconds,
        )
        self.heartbeat = Heartbeat(
            sqs=sqs,
            queue_url=settings.queue_url,
            store=store,
            inflight=self._inflight,
            interval=settings.worker_heartbeat_seconds,
            visibility=settings.worker_visibility_timeout_seconds,
            lease_seconds=settings.worker_lease_seconds,
        )
        self.lifecycle: Lifecycle | None = None
        self.max_receive_count = settings.worker_max_receive_count or 0
        self.has_dead_letter_queue = True

    def attach_lifecycle(self, *, metadata: InstanceMetadata, autoscaling: AutoScalingClient) -> None:
        """Follow this instance's termination lifecycle hook (named in the settings): on
        ``Terminated`` drain, then complete the lifecycle action."""
        if self.settings.worker_lifecycle_hook_name is None or self.settings.worker_asg_name is None:
            raise ValueError("WORKER_LIFECYCLE_HOOK_NAME and WORKER_ASG_NAME are not set")
        self.lifecycle = Lifecycle(
            metadata=metadata,
            autoscaling=autoscaling,
            hook_name=self.settings.worker_lifecycle_hook_name,
            asg_name=self.settings.worker_asg_name,
            poll_seconds=self.settings.worker_lifecycle_poll_seconds,
            on_terminate=self.stop,
        )

    def stop(self) -> None:
        """Ask the worker to drain and return from :meth:`run` (safe from a signal handler)."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` was called."""
        return self._stopping.is_set()

    def run(self) -> None:
        """Consume until :meth:`stop`, then drain. Raises :class:`WorkerStartError` if it cannot start."""
        load_handlers(self.settings.handler_modules)
        try:
            check_every_type_bound()
        except MissingHandlerError as error:
            raise WorkerStartError(str(error)) from None
        self.check()
        threads = [
            threading.Thread(target=self._job_thread, name=f"job-{i}", daemon=True)
            for i in range(self.settings.worker_concurrency)
        ]
        for thread in threads:
            thread.start()
        self._acker.start()
        self.heartbeat.start()
        reaper = self._reaper()
        if reaper is not None:
            reaper.start()
        if self.lifecycle is not None:
            self.lifecycle.start()
        _log.info(
            "worker started",
            worker_id=self.settings.worker_id,
            concurrency=self.settings.worker_concurrency,
            batch_size=self.settings.worker_batch_size,
            max_receive_count=self.max_receive_count,
        )
        # Receiving runs on a thread of its own, so a stop can release held messages at once
        # instead of waiting for a long poll (up to 20 s) to return.
        failure: list[BaseException] = []
        receiver = threading.Thread(target=self._receive_until_stopped, args=(failure,), name="receiver", daemon=True)
        receiver.start()
        self._stopping.wait()
        self._drain(threads, reaper, receiver)
        _log.info("worker stopped", worker_id=self.settings.worker_id, **self.metrics.snapshot())
        if failure:
            raise failure[0]

    # ---- start -----------------------------------------------------------------------------

    def check(self) -> None:
        """Read the queue's redrive policy (its ``maxReceiveCount``); raise :class:`WorkerStartError`
        if the queue cannot be reached."""
        try:
            attributes = self._sqs.get_queue_attributes(QueueUrl=self._queue_url, AttributeNames=["RedrivePolicy"])
        except (BotoCoreError, ClientError) as error:
            raise WorkerStartError(f"queue {self._queue_url} is not reachable: {error}") from None
        policy = attributes.get("Attributes", {}).get("RedrivePolicy")
        queue_max = int(json.loads(policy)["maxReceiveCount"]) if policy else None
        self.has_dead_letter_queue = queue_max is not None
        if self.settings.worker_max_receive_count is None:
            self.max_receive_count = queue_max or 5
        elif queue_max is not None and queue_max != self.settings.worker_max_receive_count:
            _log.warning("max receive count differs from the queue's redrive policy", queue=queue_max)
        if not self.has_dead_letter_queue:
            _log.warning("the queue has no dead-letter queue: messages of failed jobs are deleted")

    def _reaper(self) -> Reaper | None:
        if self.settings.worker_reaper_interval_seconds <= 0:
            return None
        producer = Producer(
            self._store, self._sqs, self._queue_url, relay_retry_seconds=self.settings.worker_relay_retry_seconds
        )
        return Reaper(
            store=self._store,
            producer=producer,
            interval=self.settings.worker_reaper_interval_seconds,
            grace_seconds=self.settings.reap_grace,
            max_attempts=self.max_receive_count,
        )

    # ---- receive and dispatch --------------------------------------------------------------

    def _receive_until_stopped(self, failure: list[BaseException]) -> None:
        try:
            self._consume()
        except BaseException as error:  # a bug: drain, then let run() raise it
            _log.exception("receiver failed")
            failure.append(error)
        finally:
            self.stop()

    def _consume(self) -> None:
        failures = 0
        self.receiving.set()
        while not self._stopping.is_set():
            # Look again after the wait: the drain's releases make room, and receiving then
            # would take back the very messages it just released (and spend one of their receives).
            if (
                not self._inflight.wait_for_room(self.settings.worker_concurrency, timeout=0.5)
                or self._stopping.is_set()
            ):
                continue
            try:
                messages = self._sqs.receive_message(
                    QueueUrl=self._queue_url,
                    MaxNumberOfMessages=self.settings.worker_batch_size,
                    WaitTimeSeconds=self.settings.worker_receive_wait_seconds,
                    VisibilityTimeout=self.settings.worker_visibility_timeout_seconds,
                    MessageSystemAttributeNames=["ApproximateReceiveCount"],
                ).get("Messages", [])
            except (BotoCoreError, ClientError) as error:
                failures += 1
                _log.warning("receive failed", error=str(error), failures=failures)
                self._stopping.wait(min(2.0**failures, 30.0))
                continue
            failures = 0
            if not messages:
                if self.settings.worker_receive_wait_seconds == 0:  # short polling: don't spin on an empty queue
                    self._stopping.wait(_SHORT_POLL_PAUSE)
                continue
            held = [self._hold(message) for message in messages]
            self._inflight.add(held)
            self.metrics.received.inc(len(held))
            if self._stopping.is_set():
                self._release([h for h in held if self._inflight.settle(h)], started=False)
                break
            self._dispatch(held)

    @staticmethod
    def _hold(message: MessageTypeDef) -> Held:
        return Held(
            receipt=message["ReceiptHandle"],
            message_id=message["MessageId"],
            body=message.get("Body", ""),
            receive_count=int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1")),
            extended_at=time.monotonic(),
        )

    def _dispatch(self, held: list[Held]) -> None:
        parsed: list[tuple[Held, JobMessage]] = []
        for item in held:
            try:
                parsed.append((item, parse_message_body(item.body)))
            except MessageFormatError as error:
                self._poison(item, str(error))
        try:
            batch = self._identify(parsed)
            owner = f"{self.settings.worker_id}#{next(self._claims)}"
            rows = self._store.claim(
                [h.job_id for h in batch if h.job_id],
                owner=owner,
                lease_seconds=self.settings.worker_lease_seconds,
                redrive=[h.job_id for h in batch if h.job_id and h.receive_count == 1],
            )
        except SQLAlchemyError as error:
            _log.error("database unavailable while claiming jobs", error=str(error))
            for item, _ in parsed:
                if self._inflight.settle(item):
                    self._acker.set_visibility(item.receipt, self._backoff(1))
            self._stopping.wait(1.0)
            return
        for item in batch:
            self._route(item, rows.get(item.job_id or ""), owner)

    def _route(self, item: Held, job: Job | None, owner: str) -> None:
        """Act on one message after the batch claim: run it, skip it, or send it toward the DLQ."""
        log = _log.bind(job_id=item.job_id, receive_count=item.receive_count)
        if job is None:
            self._poison(item, f"job {item.job_id} does not exist in the job database")
        elif job.status is JobStatus.RUNNING and job.lease_owner == owner:
            item.job = job
            self._inflight.mark(item, State.WAITING, expect=State.RECEIVED)
            self._jobs.put(item)
        elif job.status is JobStatus.SUCCEEDED:
            log.info("duplicate delivery of a finished job: deleting it")
            self.metrics.duplicates.inc()
            if self._inflight.settle(item):
                self._acker.delete(item.receipt)
        elif job.status is JobStatus.FAILED:
            if self._inflight.settle(item):
                self._toward_dead_letter(item, f"job {job.id} failed: {job.error}")
        else:
            log.info("job is held by another worker: leaving the message to it", owner=job.lease_owner)
            self.metrics.duplicates.inc()
            self._inflight.settle(item)

    def _identify(self, parsed: list[tuple[Held, JobMessage]]) -> list[Held]:
        """Give every message its job id (creating scheduled jobs); drop repeats within the batch."""
        batch: list[Held] = []
        seen: set[str] = set()
        for item, message in parsed:
            if message.job_id is not None:
                item.job_id = message.job_id
            else:
                try:
                    job, created = self._store.create(
                        message.type, message.payload, idempotency_key=message.idempotency_key
                    )
                except IdempotencyConflictError as error:
                    self._poison(item, str(error))
                    continue
                item.job_id = job.id
                if created:
                    _log.info("scheduled job created", job_id=job.id, type=job.type, key=message.idempotency_key)
            if item.job_id in seen:
                self.metrics.duplicates.inc()
                self._inflight.settle(item)
                continue
            seen.add(item.job_id)
            batch.append(item)
        return batch

    def _poison(self, item: Held, reason: str) -> None:
        _log.error("poison message", message_id=item.message_id, receive_count=item.receive_count, reason=reason)
        self.metrics.poison.inc()
        if self._inflight.settle(item):
            self._toward_dead_letter(item, reason)

    def _decide(self, item: Held, kind: ErrorKind) -> Verdict:
        return decide(
            kind,
            receive_count=item.receive_count,
            max_receive_count=self.max_receive_count,
            has_dead_letter_queue=self.has_dead_letter_queue,
        )

    def _toward_dead_letter(self, item: Held, reason: str) -> None:
        """Settle a message whose job cannot succeed: released for the DLQ, or deleted without one."""
        self._finish(item, self._decide(item, ErrorKind.PERMANENT), reason)

    def _finish(self, item: Held, verdict: Verdict, reason: str) -> None:
        """Act on a final verdict for a settled message (see :mod:`services.worker.retry`)."""
        if verdict is Verdict.FAIL:
            self._acker.delete(item.receipt)
            return
        self._acker.set_visibility(item.receipt, 0)  # the redrive policy moves it at maxReceiveCount
        if last_receive(item.receive_count, self.max_receive_count):
            self.metrics.dead_lettered.inc()
            _log.warning("message dead-lettered", job_id=item.job_id, message_id=item.message_id, reason=reason[:500])

    # ---- run -------------------------------------------------------------------------------

    def _job_thread(self) -> None:
        while (item := self._jobs.get()) is not None:
            with self._idle:
                self._executing += 1
            try:
                self._execute(item)
            except Exception:  # a job thread must outlive any one job
                _log.exception("job thread error", job_id=item.job_id)
                if self._inflight.settle(item):
                    self._acker.set_visibility(item.receipt, self._backoff(1))
            finally:
                with self._idle:
                    self._executing -= 1
                    self._idle.notify_all()

    def _finished(self, timeout: float) -> bool:
        """Wait until nothing is held and no job thread is still recording an outcome."""
        deadline = time.monotonic() + timeout
        if not self._inflight.wait_empty(timeout):
            return False
        with self._idle:
            return self._idle.wait_for(lambda: self._executing == 0, max(deadline - time.monotonic(), 0))

    def _execute(self, item: Held) -> None:
        job, owner = item.job, item.owner
        if self._stopping.is_set():
            return  # draining: nothing new starts; the drain releases what still waits
        if job is None or owner is None or not self._inflight.mark(item, State.RUNNING, expect=State.WAITING):
            return
        with structlog.contextvars.bound_contextvars(job_id=job.id, attempt=job.attempts, type=job.type):
            try:
                payload = get_job_type(job.type).validate(job.payload)
                run = handler_for(job.type)
            except (UnknownJobTypeError, InvalidPayloadError, MissingHandlerError) as error:
                self._failed(item, job, owner, str(error), permanent=True, run_ms=None)
                return
            ctx = JobContext(
                job_id=job.id,
                type=job.type,
                attempt=job.attempts,
                receive_count=item.receive_count,
                store=self._store,
                cancelled=item.cancelled,
            )
            started = time.perf_counter()
            try:
                result = run(payload, ctx)
                outcome: BaseException | None = None
            except JobCancelledError:
                self._release([item] if self._inflight.settle(item) else [], started=True)
                return
            except Exception as error:
                outcome = error
            elapsed = time.perf_counter() - started
            self.metrics.handler_seconds.labels(job.type).observe(elapsed)
            run_ms = round(elapsed * 1000)
            if outcome is None:
                try:
                    json.dumps(result, allow_nan=False)
                except (TypeError, ValueError) as error:
                    outcome = PermanentJobError(f"handler returned a result that is not JSON: {error}")
            if outcome is None:
                self._succeeded(item, job, owner, result, run_ms, ctx)
            else:
                self._failed(
                    item,
                    job,
                    owner,
                    f"{type(outcome).__name__}: {outcome}",
                    permanent=isinstance(outcome, PermanentJobError),
                    run_ms=run_ms,
                )

    def _succeeded(self, item: Held, job: Job, owner: str, result: Any, run_ms: int, ctx: JobContext) -> None:
        try:
            won = self._store.complete(job.id, owner=owner, result=result, run_ms=run_ms, effects=ctx.effects)
        except SQLAlchemyError as error:
            self._failed(item, job, owner, f"recording the result failed: {error}", permanent=False, run_ms=run_ms)
            return
        if not self._inflight.settle(item):
            return
        if won:
            self._acker.delete(item.receipt)
            self.metrics.succeeded.labels(job.type).inc()
            _log.info("job succeeded", run_ms=run_ms)
        else:
            self.metrics.lost_leases.inc()
            _log.warning("lease lost before completion: result discarded")

    def _failed(self, item: Held, job: Job, owner: str, error: str, *, permanent: bool, run_ms: int | None) -> None:
        verdict = self._decide(item, ErrorKind.PERMANENT if permanent else ErrorKind.TRANSIENT)
        try:
            if verdict is Verdict.RETRY:
                won = self._store.retry(job.id, owner=owner, error=error)
            else:
                won = self._store.fail(job.id, owner=owner, error=error, run_ms=run_ms)
        except SQLAlchemyError as db_error:
            # The lease runs out and the message comes back after the backoff: the next attempt decides.
            _log.error("recording a failure failed", error=str(db_error))
            won, verdict = True, Verdict.RETRY
        if not self._inflight.settle(item):
            return
        if not won:
            self.metrics.lost_leases.inc()
            _log.warning("lease lost before the failure was recorded", error=error)
            return
        if verdict is Verdict.RETRY:
            delay = self._backoff(job.attempts)
            self._acker.set_visibility(item.receipt, delay)
            self.metrics.retried.labels(job.type).inc()
            _log.warning("job attempt failed; retrying", error=error, retry_in_seconds=delay)
        else:
            self.metrics.failed.labels(job.type).inc()
            _log.error("job failed", error=error, permanent=permanent, receive_count=item.receive_count)
            self._finish(item, verdict, error)

    def _backoff(self, attempt: int) -> int:
        return backoff_seconds(
            attempt,
            base=self.settings.worker_backoff_base_seconds,
            maximum=self.settings.worker_backoff_max_seconds,
            jitter=self._rng.random(),
        )

    # ---- stop ------------------------------------------------------------------------------

    def _release(self, items: list[Held], *, started: bool) -> None:
        """Hand settled messages back at once: leases released, visibility 0."""
        by_owner: dict[str, list[str]] = defaultdict(list)
        for item in items:
            if item.owner is not None and item.job_id is not None:
                by_owner[item.owner].append(item.job_id)
        for owner, job_ids in by_owner.items():
            try:
                self._store.release(job_ids, owner=owner, started=started)
            except SQLAlchemyError as error:
                _log.warning("could not release leases; they will expire", error=str(error))
        for item in items:
            self._acker.set_visibility(item.receipt, 0)
        self.metrics.released.inc(len(items))

    def _drain(self, threads: list[threading.Thread], reaper: Reaper | None, receiver: threading.Thread) -> None:
        deadline = time.monotonic() + self.settings.worker_drain_seconds
        unstarted = self._inflight.take(State.WAITING)
        self._release(unstarted, started=False)
        self._acker.flush()
        _log.info("draining", released=len(unstarted), running=len(self._inflight))
        # The receiver releases what a poll in progress brings; a batch it was dispatching waits.
        receiver.join(timeout=self.settings.worker_receive_wait_seconds + 30)
        late = self._inflight.take(State.WAITING) + self._inflight.take(State.RECEIVED)
        self._release(late, started=False)
        self._acker.flush()
        if not self._finished(max(deadline - time.monotonic(), 0)):
            for item in self._inflight.snapshot():
                item.cancelled.set()
            self._finished(2.0)  # handlers that heed cancellation release their jobs themselves
            leftover = self._inflight.take(State.RUNNING)
            if leftover:
                _log.warning("drain deadline passed: releasing running jobs", count=len(leftover))
            self._release(leftover, started=True)
        for _ in threads:
            self._jobs.put(None)
        self.heartbeat.stop()
        if reaper is not None:
            reaper.stop()
        self._acker.stop()
        if self.lifecycle is not None:
            self.lifecycle.stop()
            if self.lifecycle.terminating or self.lifecycle.check():
                self.lifecycle.complete()
