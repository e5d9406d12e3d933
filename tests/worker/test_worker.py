"""The worker against a real (moto) queue and a real database: each path a job can take."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa
from callcount import AwsCallCounter, RoundTripCounter

from services.jobs import JobStatus, JobStore, Producer
from services.jobs.spec import PRECOMPUTE, job_message_body, scheduled_message_body
from services.worker.deadletter import DeadLetterQueue
from services.worker.settings import WorkerSettings
from services.worker.worker import Worker, WorkerStartError
from tests.jobs.conftest import Queues, queue_depth
from tests.support import wait_until
from tests.worker import sample_handlers
from tests.worker.conftest import RunWorker

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


def _dead_letters(sqs_client: SQSClient, queues: Queues, expected: int) -> list[dict[str, Any]]:
    """Wait until the DLQ holds ``expected`` messages; return them (left in place)."""
    wait_until(lambda: queue_depth(sqs_client, queues.dlq_url)[0] >= expected, timeout=20)
    return [
        message.to_dict()
        for message in DeadLetterQueue(sqs_client, dlq_url=queues.dlq_url, source_url=queues.url).peek()
    ]


def _settled(store: JobStore, job_ids: list[str]) -> bool:
    jobs = store.get_many(job_ids)
    return len(jobs) == len(job_ids) and all(job.status.terminal for job in jobs.values())


def test_jobs_succeed_once_and_their_messages_are_deleted_in_batches(
    db_url: str, sqs_client: SQSClient, make_queues: Callable[..., Queues], run_worker: RunWorker
) -> None:
    queues = make_queues()
    with JobStore.from_url(db_url) as store:
        producer = Producer(store, sqs_client, queues.url)
        jobs = [producer.submit("echo", {"i": i}) for i in range(30)]
        calls = AwsCallCounter(sqs_client)
        trips = RoundTripCounter(*store.engines)
        # Nothing here runs on a timer, so the counts don't depend on the machine's speed: no
        # partial delete batch comes due (flush after 60 s), no heartbeat falls due (25 s).
        timing = {"worker_ack_flush_seconds": 60, "worker_heartbeat_seconds": 25}
        with run_worker(store, queues.url, worker_concurrency=10, worker_batch_size=10, **timing) as worker:
            wait_until(lambda: _settled(store, [j.id for j in jobs]))
            wait_until(lambda: queue_depth(sqs_client, queues.url) == (0, 0))
        calls.close()
        trips.close()
        done = store.get_many([j.id for j in jobs])
    assert {job.status for job in done.values()} == {JobStatus.SUCCEEDED}
    assert all(done[j.id].result == {"i": i} and done[j.id].attempts == 1 for i, j in enumerate(jobs))
    assert worker.metrics.jobs_succeeded == 30
    assert worker.metrics.duplicates_skipped == 0
    # one delete call per ten jobs, never one per message
    assert calls.calls["DeleteMessage"] == 0
    assert calls.calls["DeleteMessageBatch"] == 3
    assert trips.total / 30 <= 3, f"{trips.total} database round trips for 30 jobs"


def test_a_failing_job_is_retried_with_backoff_then_failed_and_dead_lettered(
    store: JobStore, sqs_client: SQSClient, make_queues: Callable[..., Queues], run_worker: RunWorker
) -> None:
    queues = make_queues(max_receive_count=2)
    job = Producer(store, sqs_client, queues.url).submit("fail", {"message": "disk on fire"})
    with run_worker(store, queues.url) as worker:
        wait_until(lambda: store.get(job.id).status is JobStatus.RETRYING)  # type: ignore[union-attr]
        assert store.get(job.id).error == "RuntimeError: disk on fire"  # type: ignore[union-attr]
        wait_until(lambda: store.get(job.id).status is JobStatus.FAILED, timeout=20)  # type: ignore[union-attr]
        (dead,) = _dead_letters(sqs_client, queues, 1)
    failed = store.get(job.id)
    assert failed is not None
    assert (failed.attempts, failed.error) == (2, "RuntimeError: disk on fire")
    assert worker.metrics.jobs_retried == 1
    assert worker.metrics.jobs_failed == 1
    assert worker.metrics.messages_dead_lettered == 1
    assert dead["job_id"] == job.id


def test_poison_messages_reach_the_dlq_after_max_receive_count_without_a_crash_loop(
    store: JobStore, sqs_client: SQSClient, make_queues: Callable[..., Queues], run_worker: RunWorker
) -> None:
    queues = make_queues(max_receive_count=2)
    unknown, _ = store.create("no-such-type", {})
    invalid, _ = store.create("sleep", {"seconds": "soon"})
    for body in [
        "this is not JSON",
        job_message_body("missing-job", "echo", {}),
        job_message_body(unknown.id, "no-such-type", {}),
        job_message_body(invalid.id, "sleep", {"seconds": "soon"}),
    ]:
        sqs_client.send_message(QueueUrl=queues.url, MessageBody=body)
    with run_worker(store, queues.url) as worker:
        dead = _dead_letters(sqs_client, queues, 4)
        healthy = Producer(store, sqs_client, queues.url).submit("echo", {"still": "working"})
        wait_until(lambda: store.get(healthy.id).status is JobStatus.SUCCEEDED)  # type: ignore[union-attr]
    assert sorted(message["job_id"] or message["problem"][:19] for message in dead) == sorted(
        ["message body is not", "missing-job", unknown.id, invalid.id]
    )
    assert all(message["receive_count"] >= 2 for message in dead)
    unknown_job, invalid_job = store.get(unknown.id), store.get(invalid.id)
    assert unknown_job is not None
    assert invalid_job is not None
    assert unknown_job.status is JobStatus.FAILED
    assert "unknown job type 'no-such-type'" in (unknown_job.error or "")
    assert invalid_job.status is JobStatus.FAILED
    assert "field 'seconds'" in (invalid_job.error or "")
    assert worker.metrics.messages_dead_lettered == 4
    assert worker.metrics.jobs_failed == 2


def test_a_duplicate_message_is_skipped_and_its_effect_is_written_once(
    store: JobStore, sqs_client: SQSClient, make_queues: Callable[..., Queues], run_worker: RunWorker
) -> None:
    sample_handlers.effects.create(store.engine)
    queues = make_queues(visibility_timeout=2)
    job = Producer(store, sqs_client, queues.url).submit("test-effect", {})
    sqs_client.send_message(QueueUrl=queues.url, MessageBody=job_message_body(job.id, "test-effect", {}))
    # A message for a job that is running is left alone: it returns after its visibility
    # timeout, finds the job done, and is deleted as a duplicate.
    timing = {"worker_visibility_timeout_seconds": 2, "worker_heartbeat_seconds": 0.5, "worker_lease_seconds": 2}
    with run_worker(store, queues.url, worker_concurrency=1, **timing) as worker:
        wait_until(lambda: worker.metrics.duplicates_skipped >= 1 and store.get(job.id).status.terminal)  # type: ignore[union-attr]
        wait_until(lambda: queue_depth(sqs_client, queues.url) == (0, 0))
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sample_handlers.effects.c.job_id)).scalars().all() == [job.id]
    assert store.get(job.id).attempts == 1  # type: ignore[union-attr]


@pytest.mark.parametrize("receiver", ["the same worker", "another worker"])
def test_a_duplicate_delivered_while_its_job_runs_is_left_to_the_lease_holder(
    receiver: str,
    db_url: str,
    sqs_client: SQSClient,
    make_queues: Callable[..., Queues],
    run_worker: RunWorker,
    gate: threading.Event,
) -> None:
    queues = make_queues()
    # The duplicate is hidden for 1 s when it is left alone; then it finds the job done and is deleted.
    timing = {"worker_visibility_timeout_seconds": 1, "worker_heartbeat_seconds": 0.25, "worker_lease_seconds": 30}
    first_sqs = _PausableReceives(sqs_client)
    with JobStore.from_url(db_url) as store:
        sample_handlers.effects.create(store.engine)
        job = Producer(store, sqs_client, queues.url).submit("test-gated", {})
        with run_worker(store, queues.url, sqs=first_sqs, **timing) as first:
            wait_until(lambda: job.id in sample_handlers.STARTED)
            if receiver == "another worker":
                first_sqs.paused.set()
            with (
                run_worker(store, queues.url, **timing) if receiver == "another worker" else nullcontext(first)
            ) as second:
                sqs_client.send_message(QueueUrl=queues.url, MessageBody=job_message_body(job.id, "test-gated", {}))
                # the duplicate was judged: left to the lease holder, or (wrongly) started again
                wait_until(lambda: second.metrics.duplicates_skipped >= 1 or sample_handlers.STARTED.count(job.id) > 1)
                gate.set()
                wait_until(lambda: store.get(job.id).status.terminal)  # type: ignore[union-attr]
                wait_until(lambda: queue_depth(sqs_client, queues.url) == (0, 0))
        done = store.get(job.id)
        with store.engine.connect() as conn:
            effect_rows = conn.execute(sa.select(sample_handlers.effects.c.job_id)).scalars().all()
    assert sample_handlers.STARTED.count(job.id) == 1, "the job ran twice"
    assert done is not None
    assert (done.status, done.attempts) == (JobStatus.SUCCEEDED, 1)
    assert effect_rows == [job.id]
    assert second.metrics.messages_received >= 1
    assert first.metrics.jobs_succeeded == 1


class _PausableReceives:
    """An SQS client whose ``receive_message`` finds nothing while ``paused`` is set."""

    def __init__(self, client: SQSClient) -> None:
        self._client = client
        self.paused = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def receive_message(self, **kwargs: Any) -> Any:
        if self.paused.is_set():
            return {"Messages": []}
        return self._client.receive_message(**kwargs)


def test_a_long_job_is_heartbeated_so_no_other_worker_runs_it(
    store: JobStore,
    sqs_client: SQSClient,
    make_queues: Callable[..., Queues],
    run_worker: RunWorker,
    gate: threading.Event,
) -> None:
    sample_handlers.effects.create(store.engine)
    visibility = 2
    queues = make_queues(visibility_timeout=visibility)
    timing = {
        "worker_visibility_timeout_seconds": visibility,
        "worker_heartbeat_seconds": 0.25,
        "worker_lease_seconds": visibility,
    }
    job = Producer(store, sqs_client, queues.url).submit("test-gated", {})
    with run_worker(store, queues.url, **timing) as first:
        wait_until(lambda: job.id in sample_handlers.STARTED)
        with run_worker(store, queues.url, **timing) as second:
            # The job outlives its visibility timeout (and its lease) twice over while a second
            # worker polls: only the heartbeat's extensions keep the message from it.
            polling = time.monotonic()
            wait_until(lambda: first.heartbeat.beats >= 8 and time.monotonic() - polling >= 2 * visibility)
            gate.set()
            wait_until(lambda: store.get(job.id).status is JobStatus.SUCCEEDED)  # type: ignore[union-attr]
    assert store.get(job.id).attempts == 1  # type: ignore[union-attr]
    assert sample_handlers.STARTED.count(job.id) == 1
    assert second.metrics.messages_received == 0


def test_a_scheduled_message_creates_its_job_once_and_runs_it(
    store: JobStore,
    sqs_client: SQSClient,
    make_queues: Callable[..., Queues],
    run_worker: RunWorker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)  # the warming step then skips, saying why
    queues = make_queues()
    producer = Producer(store, sqs_client, queues.url)
    body = scheduled_message_body(PRECOMPUTE, "2026-01-01T03:00:00Z")
    key = PRECOMPUTE.idempotency_key("2026-01-01T03:00:00Z")
    with run_worker(store, queues.url, worker_concurrency=1) as worker:
        earlier = [producer.submit("echo", {"i": i}).id for i in range(2)]
        wait_until(lambda: _settled(store, earlier))
        sqs_client.send_message(QueueUrl=queues.url, MessageBody=body)
        first = wait_until(lambda: (job := store.get_by_key(key)) and job.status.terminal and job)
        sqs_client.send_message(QueueUrl=queues.url, MessageBody=body)
        wait_until(lambda: worker.metrics.duplicates_skipped == 1)
    assert first.status is JobStatus.SUCCEEDED
    assert first.type == "precompute"
    assert first.result == {
        "job_stats": {"types": 1, "finished": 2},
        "warm_item_cache": {"skipped": "REDIS_URL is not set"},
    }
    assert store.count_by_status()[JobStatus.SUCCEEDED] == 3
    assert [(row.type, row.succeeded) for row in store.job_stats()] == [("echo", 2)]


def test_graceful_shutdown_finishes_running_jobs_and_releases_the_rest_at_once(
    store: JobStore,
    sqs_client: SQSClient,
    make_queues: Callable[..., Queues],
    run_worker: RunWorker,
    gate: threading.Event,
) -> None:
    sample_handlers.effects.create(store.engine)
    queues = make_queues(visibility_timeout=60)
    producer = Producer(store, sqs_client, queues.url)
    jobs = [producer.submit("test-gated", {}) for _ in range(5)]
    timing = {"worker_visibility_timeout_seconds": 60, "worker_lease_seconds": 60, "worker_drain_seconds": 60}
    with run_worker(store, queues.url, worker_concurrency=1, **timing) as worker:
        wait_until(lambda: worker.metrics.messages_received == 5)
        # started, not just claimed: a claim marks the whole batch running
        running = wait_until(lambda: [j.id for j in jobs if j.id in sample_handlers.STARTED])
        worker.stop()
        # the four waiting are handed back at once, while the running one still runs
        wait_until(lambda: worker.metrics.messages_released == 4)
        assert store.get(running[0]).status is JobStatus.RUNNING  # type: ignore[union-attr]
        gate.set()
    # The drain waited for the running job, then returned (the block's end joins the worker)
    # long before its 60 s deadline: had that passed, the job would have been cancelled and released.
    statuses = sorted(store.get(j.id).status for j in jobs)  # type: ignore[union-attr]
    assert statuses.count(JobStatus.SUCCEEDED) == 1
    assert store.get(running[0]).status is JobStatus.SUCCEEDED  # type: ignore[union-attr]
    assert worker.metrics.messages_released == 4
    unstarted = [store.get(j.id) for j in jobs if j.id != running[0]]
    assert all(j is not None and j.status is JobStatus.QUEUED and j.attempts == 0 for j in unstarted)
    # visible now, not after the 60 s visibility timeout
    visible = sqs_client.receive_message(QueueUrl=queues.url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    assert len(visible.get("Messages", [])) == 4


def test_a_job_still_running_at_the_drain_deadline_is_released(
    store: JobStore,
    sqs_client: SQSClient,
    make_queues: Callable[..., Queues],
    run_worker: RunWorker,
    gate: threading.Event,
) -> None:
    sample_handlers.effects.create(store.engine)
    queues = make_queues(visibility_timeout=60)
    job = Producer(store, sqs_client, queues.url).submit("test-gated", {})
    timing = {"worker_visibility_timeout_seconds": 60, "worker_lease_seconds": 60, "worker_drain_seconds": 0.5}
    with run_worker(store, queues.url, **timing) as worker:
        wait_until(lambda: job.id in sample_handlers.STARTED)
    # The gate never opened, so the job could not finish: the worker stopped at the drain
    # deadline instead of waiting for it, and handed it back.
    released = store.get(job.id)
    assert released is not None
    assert (released.status, released.attempts, released.lease_owner) == (JobStatus.RETRYING, 1, None)
    assert worker.metrics.messages_released == 1
    assert worker.metrics.jobs_succeeded == 0
    visible = sqs_client.receive_message(QueueUrl=queues.url, WaitTimeSeconds=1)
    assert len(visible.get("Messages", [])) == 1


def test_the_reaper_requeues_a_dead_workers_job_whose_message_was_lost(
    store: JobStore, sqs_client: SQSClient, make_queues: Callable[..., Queues], run_worker: RunWorker
) -> None:
    queues = make_queues()
    job, _ = store.create("echo", {"lost": True})
    store.claim([job.id], owner="dead-worker#1", lease_seconds=0.2)
    with run_worker(store, queues.url, worker_reaper_interval_seconds=0.3, worker_reap_grace_seconds=0.2):
        wait_until(lambda: store.get(job.id).status is JobStatus.SUCCEEDED)  # type: ignore[union-attr]
    recovered = store.get(job.id)
    assert recovered is not None
    assert (recovered.attempts, recovered.result) == (2, {"lost": True})


def test_a_redriven_message_runs_its_failed_job_again(
    store: JobStore, sqs_client: SQSClient, make_queues: Callable[..., Queues], run_worker: RunWorker
) -> None:
    queues = make_queues(max_receive_count=2)
    sample_handlers.BROKEN.set()
    try:
        job = Producer(store, sqs_client, queues.url).submit("test-flaky", {})
        with run_worker(store, queues.url):
            _dead_letters(sqs_client, queues, 1)
            assert store.get(job.id).status is JobStatus.FAILED  # type: ignore[union-attr]
            sample_handlers.BROKEN.clear()
            result = DeadLetterQueue.of_queue(sqs_client, queues.url).redrive()
            wait_until(lambda: store.get(job.id).status is JobStatus.SUCCEEDED)  # type: ignore[union-attr]
    finally:
        sample_handlers.BROKEN.clear()
    assert (result.method, result.moved) == ("copy", 1)
    redriven = store.get(job.id)
    assert redriven is not None
    assert (redriven.attempts, redriven.result, redriven.error) == (3, "fixed", None)
    assert queue_depth(sqs_client, queues.dlq_url) == (0, 0)


def test_the_worker_refuses_to_start_on_an_unreachable_queue(store: JobStore, sqs_client: SQSClient) -> None:
    missing = f"{sqs_client.meta.endpoint_url}/123456789012/no-such-queue"
    worker = Worker(store=store, sqs=sqs_client, settings=WorkerSettings(queue_url=missing))
    with pytest.raises(WorkerStartError, match="not reachable"):
        worker.run()


def test_a_result_that_is_not_json_fails_the_job_at_once(
    store: JobStore, sqs_client: SQSClient, make_queues: Callable[..., Queues], run_worker: RunWorker
) -> None:
    queues = make_queues(max_receive_count=5)
    job = Producer(store, sqs_client, queues.url).submit("test-bad-result", {})
    with run_worker(store, queues.url) as worker:
        wait_until(lambda: store.get(job.id).status is JobStatus.FAILED)  # type: ignore[union-attr]
    failed = store.get(job.id)
    assert failed is not None
    assert failed.attempts == 1
    assert "not JSON" in (failed.error or "")
    assert worker.metrics.jobs_retried == 0


def test_without_a_dead_letter_queue_a_failed_jobs_message_is_deleted(
    store: JobStore, sqs_client: SQSClient, run_worker: RunWorker
) -> None:
    url = sqs_client.create_queue(QueueName=f"no-dlq-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    job = Producer(store, sqs_client, url).submit("fail", {})
    with run_worker(store, url, worker_max_receive_count=1) as worker:
        wait_until(lambda: store.get(job.id).status is JobStatus.FAILED)  # type: ignore[union-attr]
        wait_until(lambda: queue_depth(sqs_client, url) == (0, 0))
    assert not worker.has_dead_letter_queue
    assert worker.metrics.jobs_retried == 0
