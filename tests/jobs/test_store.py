"""The job store on SQLite, PostgreSQL and MariaDB: schema, idempotency and conditional transitions."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import sqlalchemy as sa

from services.jobs import IdempotencyConflictError, JobStatus, JobStore
from tests.jobs.conftest import FakeClock

effects = sa.Table(
    "test_effects",
    sa.MetaData(),
    sa.Column("job_id", sa.String(36), primary_key=True),
    sa.Column("note", sa.String(50)),
)


def _effect(job_id: str, note: str = "done"):  # type: ignore[no-untyped-def]
    return lambda conn: conn.execute(sa.insert(effects).values(job_id=job_id, note=note))


@pytest.fixture
def effects_table(store: JobStore) -> None:
    effects.create(store.engine)


def test_schema_is_versioned_and_migrating_again_changes_nothing(store: JobStore, db_url: str) -> None:
    assert store.migrate() == 1
    with JobStore.from_url(db_url) as again:
        assert again.migrate() == 1
    with store.engine.connect() as conn:
        version = conn.execute(sa.text("SELECT version FROM schema_versions WHERE component = 'jobs'")).scalar()
        tables = set(sa.inspect(conn).get_table_names())
    assert version == 1
    assert {"jobs", "job_outbox", "job_stats"} <= tables


def test_a_created_job_reads_back_whole(store: JobStore, clock: FakeClock) -> None:
    job, created = store.create("echo", {"n": 1, "nested": {"a": [1, 2]}})
    assert created
    read = store.get(job.id)
    assert read == job
    assert read.status is JobStatus.QUEUED
    assert read.attempts == 0
    assert read.created_at == clock.now
    assert read.created_at.tzinfo is not None
    assert read.payload == {"n": 1, "nested": {"a": [1, 2]}}
    assert json.loads(json.dumps(read.to_dict()))["status"] == "queued"
    assert read.to_dict()["created_at"] == clock.now.isoformat()
    assert store.get("no-such-job") is None


def test_an_idempotency_key_returns_the_same_job_and_rejects_a_different_one(store: JobStore) -> None:
    first, created = store.create("echo", {"n": 1}, idempotency_key="order-42")
    again, created_again = store.create("echo", {"n": 1}, idempotency_key="order-42")
    assert created
    assert not created_again
    assert again.id == first.id
    assert store.count_by_status()[JobStatus.QUEUED] == 1
    with pytest.raises(IdempotencyConflictError, match="order-42"):
        store.create("echo", {"n": 2}, idempotency_key="order-42")


def test_only_one_of_many_concurrent_claims_wins(store: JobStore) -> None:
    job, _ = store.create("echo", {})
    start = threading.Barrier(8)

    def claim(i: int) -> bool:
        start.wait()
        row = store.claim([job.id], owner=f"w{i}#1", lease_seconds=30)[job.id]
        return row.status is JobStatus.RUNNING and row.lease_owner == f"w{i}#1"

    with ThreadPoolExecutor(8) as pool:
        wins = list(pool.map(claim, range(8)))
    assert wins.count(True) == 1
    assert store.get(job.id).attempts == 1  # type: ignore[union-attr]


@pytest.mark.usefixtures("effects_table")
def test_an_expired_lease_passes_to_the_next_claim_and_the_old_owner_cannot_complete(
    store: JobStore, clock: FakeClock
) -> None:
    job, _ = store.create("echo", {})
    store.claim([job.id], owner="a#1", lease_seconds=10)
    assert store.claim([job.id], owner="b#1", lease_seconds=10)[job.id].lease_owner == "a#1"
    clock.advance(11)
    taken = store.claim([job.id], owner="b#1", lease_seconds=10)[job.id]
    assert (taken.lease_owner, taken.attempts) == ("b#1", 2)
    assert not store.complete(job.id, owner="a#1", result=1, run_ms=1, effects=[_effect(job.id, "a")])
    assert store.complete(job.id, owner="b#1", result={"ok": True}, run_ms=5, effects=[_effect(job.id, "b")])
    assert not store.complete(job.id, owner="b#1", result=2, run_ms=1)
    done = store.get(job.id)
    assert done is not None
    assert (done.status, done.result, done.run_ms, done.lease_owner) == (JobStatus.SUCCEEDED, {"ok": True}, 5, None)


@pytest.mark.usefixtures("effects_table")
def test_staged_effects_commit_only_with_the_winning_completion(store: JobStore, clock: FakeClock) -> None:
    job, _ = store.create("echo", {})
    store.claim([job.id], owner="a#1", lease_seconds=10)
    clock.advance(11)
    store.claim([job.id], owner="b#1", lease_seconds=10)
    assert not store.complete(job.id, owner="a#1", result=1, run_ms=1, effects=[_effect(job.id, "a")])
    assert store.complete(job.id, owner="b#1", result=1, run_ms=1, effects=[_effect(job.id, "b")])
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(effects.c.job_id, effects.c.note)).all() == [(job.id, "b")]


@pytest.mark.usefixtures("effects_table")
def test_a_failing_effect_rolls_the_completion_back(store: JobStore) -> None:
    job, _ = store.create("echo", {})
    with store.engine.begin() as conn:
        conn.execute(sa.insert(effects).values(job_id=job.id, note="earlier"))
    store.claim([job.id], owner="a#1", lease_seconds=10)
    with pytest.raises(sa.exc.IntegrityError):
        store.complete(job.id, owner="a#1", result=1, run_ms=1, effects=[_effect(job.id)])
    assert store.get(job.id).status is JobStatus.RUNNING  # type: ignore[union-attr]


def test_retry_fail_and_release_are_recorded_and_conditional(store: JobStore) -> None:
    job, _ = store.create("echo", {})
    store.claim([job.id], owner="a#1", lease_seconds=10)
    assert not store.retry(job.id, owner="intruder#1", error="x")
    assert store.retry(job.id, owner="a#1", error="RuntimeError: try again")
    retrying = store.get(job.id)
    assert retrying is not None
    assert (retrying.status, retrying.error, retrying.lease_owner) == (
        JobStatus.RETRYING,
        "RuntimeError: try again",
        None,
    )

    store.claim([job.id], owner="a#2", lease_seconds=10)
    assert store.release([job.id], owner="a#2", started=False) == 1
    given_back = store.get(job.id)
    assert given_back is not None
    assert (given_back.status, given_back.attempts) == (JobStatus.RETRYING, 1)

    store.claim([job.id], owner="a#3", lease_seconds=10)
    assert store.fail(job.id, owner="a#3", error="gave up", run_ms=3)
    failed = store.get(job.id)
    assert failed is not None
    assert (failed.status, failed.attempts, failed.error) == (JobStatus.FAILED, 2, "gave up")
    assert failed.status.terminal


def test_releasing_an_unstarted_first_claim_makes_the_job_queued_again(store: JobStore) -> None:
    job, _ = store.create("echo", {})
    store.claim([job.id], owner="a#1", lease_seconds=10)
    store.release([job.id], owner="a#1", started=False)
    again = store.get(job.id)
    assert again is not None
    assert (again.status, again.attempts, again.lease_owner) == (JobStatus.QUEUED, 0, None)


def test_a_failed_job_is_claimed_again_only_for_a_redriven_message(store: JobStore) -> None:
    job, _ = store.create("fail", {})
    store.claim([job.id], owner="a#1", lease_seconds=10)
    store.fail(job.id, owner="a#1", error="boom")
    assert store.claim([job.id], owner="b#1", lease_seconds=10)[job.id].status is JobStatus.FAILED
    redriven = store.claim([job.id], owner="b#2", lease_seconds=10, redrive=[job.id])[job.id]
    assert (redriven.status, redriven.lease_owner, redriven.attempts) == (JobStatus.RUNNING, "b#2", 2)


def test_a_batch_claim_reports_every_job_that_exists(store: JobStore) -> None:
    queued, _ = store.create("echo", {})
    done, _ = store.create("echo", {})
    store.claim([done.id], owner="x#1", lease_seconds=10)
    store.complete(done.id, owner="x#1", result=None, run_ms=1)
    rows = store.claim([queued.id, done.id, "missing"], owner="w#1", lease_seconds=10)
    assert set(rows) == {queued.id, done.id}
    assert rows[queued.id].lease_owner == "w#1"
    assert rows[done.id].status is JobStatus.SUCCEEDED


def test_renew_extends_held_leases_and_reports_lost_ones(store: JobStore, clock: FakeClock) -> None:
    mine, _ = store.create("echo", {})
    lost, _ = store.create("echo", {})
    store.claim([mine.id, lost.id], owner="a#1", lease_seconds=10)
    clock.advance(11)
    store.claim([lost.id], owner="b#1", lease_seconds=10)
    assert store.renew([mine.id, lost.id], owner="a#1", lease_seconds=10) == {lost.id}
    assert store.get(mine.id).lease_expires_at == clock.now + timedelta(seconds=10)  # type: ignore[union-attr]


def test_concurrent_reapers_recover_each_dead_workers_job_once(store: JobStore, clock: FakeClock) -> None:
    alive, _ = store.create("echo", {})
    dead = [store.create("echo", {})[0] for _ in range(5)]
    store.claim([j.id for j in dead], owner="dead#1", lease_seconds=10)
    spent, _ = store.create("echo", {})
    store.claim([spent.id], owner="dead#2", lease_seconds=10)
    clock.advance(20)
    store.claim([alive.id], owner="live#1", lease_seconds=10)
    clock.advance(5)
    with ThreadPoolExecutor(4) as pool:
        rounds = list(pool.map(lambda _: store.requeue_expired(grace_seconds=5, max_attempts=1), range(4)))
    recovered: dict[str, JobStatus] = {}
    for found in rounds:
        assert not set(found) & set(recovered), "a job was recovered twice"
        recovered.update(found)
    # max_attempts=1: every expired job had its one attempt, so all are failed, none requeued
    assert recovered == {j.id: JobStatus.FAILED for j in [*dead, spent]}
    assert store.get(alive.id).status is JobStatus.RUNNING  # type: ignore[union-attr]
    assert "worker presumed dead" in (store.get(spent.id).error or "")  # type: ignore[union-attr]


def test_a_reaped_job_is_retried_through_the_outbox(store: JobStore, clock: FakeClock) -> None:
    job, _ = store.create("echo", {})
    store.claim([job.id], owner="dead#1", lease_seconds=10)
    clock.advance(30)
    assert store.requeue_expired(grace_seconds=5, max_attempts=5) == {job.id: JobStatus.RETRYING}
    assert store.requeue_expired(grace_seconds=5, max_attempts=5) == {}
    assert store.outbox.pending() == [job.id]
    taken = store.outbox.take_due(retry_after_seconds=30, limit=10)
    assert [entry.job_id for entry in taken] == [job.id]
    assert store.outbox.take_due(retry_after_seconds=30, limit=10) == []


def test_a_reaped_job_whose_entry_was_never_sent_is_due_at_once(store: JobStore, clock: FakeClock) -> None:
    job, _ = store.create("echo", {}, outbox_after=3600)
    store.claim([job.id], owner="dead#1", lease_seconds=10)
    clock.advance(30)
    assert store.requeue_expired(grace_seconds=5, max_attempts=5) == {job.id: JobStatus.RETRYING}
    assert store.outbox.pending() == [job.id]
    assert [entry.job_id for entry in store.outbox.take_due(retry_after_seconds=30, limit=10)] == [job.id]


def test_the_outbox_waits_for_the_producer_and_drops_entries_of_started_jobs(store: JobStore, clock: FakeClock) -> None:
    job, _ = store.create("echo", {"x": 1}, outbox_after=10)
    started, _ = store.create("echo", {}, outbox_after=10)
    assert store.outbox.take_due(retry_after_seconds=30, limit=10) == []
    store.claim([started.id], owner="w#1", lease_seconds=10)
    clock.advance(10)
    taken = store.outbox.take_due(retry_after_seconds=30, limit=10)
    assert [(e.job_id, e.type, e.payload, e.sends) for e in taken] == [(job.id, "echo", {"x": 1}, 1)]
    assert store.outbox.pending() == [job.id]
    clock.advance(30)
    assert [e.sends for e in store.outbox.take_due(retry_after_seconds=30, limit=10)] == [2]


def test_the_stats_aggregate_counts_jobs_finished_in_the_window(store: JobStore, clock: FakeClock) -> None:
    def finish(job_type: str, ok: bool, run_ms: int) -> None:
        job, _ = store.create(job_type, {})
        store.claim([job.id], owner="w#1", lease_seconds=10)
        if ok:
            store.complete(job.id, owner="w#1", result=None, run_ms=run_ms)
        else:
            store.fail(job.id, owner="w#1", error="x", run_ms=run_ms)

    finish("echo", ok=True, run_ms=999)  # finished before the window
    clock.advance(7200)
    finish("echo", ok=True, run_ms=10)
    finish("echo", ok=True, run_ms=30)
    finish("echo", ok=False, run_ms=5)
    finish("cpu", ok=True, run_ms=100)
    store.create("cpu", {})  # not finished
    rows = {row.type: row for row in store.rebuild_job_stats(window_seconds=3600)}
    assert {t: (r.total, r.succeeded, r.failed) for t, r in rows.items()} == {"cpu": (1, 1, 0), "echo": (3, 2, 1)}
    assert rows["echo"].avg_run_ms == pytest.approx(20.0)
    assert rows["echo"].max_run_ms == 30
    assert rows["echo"].success_rate == pytest.approx(2 / 3)
    assert store.job_stats() == sorted(rows.values(), key=lambda r: r.type)
