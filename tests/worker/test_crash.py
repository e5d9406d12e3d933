"""Crash test: several worker processes on one queue, killed with SIGKILL mid-job, repeatedly.

Every job must end succeeded exactly once and none may be lost. Each job's handler writes
an effect row keyed by its job id, in the transaction that records success: a duplicate
effect could not commit, and a missing one would be a lost job. The moto server's receive
is not atomic across processes, so duplicate deliveries happen here too, for free.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa

from services.jobs import JobStatus, JobStore, Producer
from services.jobs.schema import jobs as jobs_table
from tests.jobs.conftest import Queues, queue_depth
from tests.support import wait_until
from tests.worker import sample_handlers
from tests.worker.conftest import ROOT, worker_env

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

JOBS = 36
KILLS = 3


def _running(store: JobStore) -> dict[str, str]:
    """Running job id → the worker id holding its lease."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(jobs_table.c.id, jobs_table.c.lease_owner).where(jobs_table.c.status == JobStatus.RUNNING.value)
        ).all()
    return {job_id: owner.split("#")[0] for job_id, owner in rows if owner}


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_workers_killed_mid_job_lose_nothing_and_duplicate_nothing(
    db_url: str, moto_server: str, sqs_client: SQSClient, make_queues: Callable[..., Queues], tmp_path: Path
) -> None:
    queues = make_queues(max_receive_count=10, visibility_timeout=2)
    env = worker_env(
        QUEUE_URL=queues.url,
        DATABASE_URL=db_url,
        AWS_ENDPOINT_URL=moto_server,
        JOB_HANDLER_MODULES="tests.worker.sample_handlers",
        LOG_LEVEL="WARNING",
        WORKER_CONCURRENCY="2",
        WORKER_RECEIVE_WAIT_SECONDS="0",
        WORKER_VISIBILITY_TIMEOUT_SECONDS="2",
        WORKER_HEARTBEAT_SECONDS="0.5",
        WORKER_LEASE_SECONDS="2",
        WORKER_REAPER_INTERVAL_SECONDS="1",
        WORKER_REAP_GRACE_SECONDS="2",
        WORKER_BACKOFF_BASE_SECONDS="0.5",
        WORKER_BACKOFF_MAX_SECONDS="1",
        WORKER_ACK_FLUSH_SECONDS="0.2",
        WORKER_DRAIN_SECONDS="5",
    )
    log = (tmp_path / "workers.log").open("w")
    workers: dict[str, subprocess.Popen[bytes]] = {}

    def spawn() -> None:
        worker_id = f"crash-{len(workers) + 1}"
        workers[worker_id] = subprocess.Popen(
            [sys.executable, "-m", "services.worker"],
            env={**env, "WORKER_ID": worker_id},
            stdout=log,
            stderr=log,
            cwd=ROOT,
        )

    rng = random.Random(4)
    killed: list[str] = []
    with JobStore.from_url(db_url) as store:
        sample_handlers.effects.create(store.engine)
        producer = Producer(store, sqs_client, queues.url)
        submitted = [producer.submit("test-effect", {"seconds": 0.5}).id for _ in range(JOBS)]
        try:
            for _ in range(3):
                spawn()

            def busy_workers() -> list[str]:
                live = {w for w, p in workers.items() if p.poll() is None}
                return sorted(live & set(_running(store).values()))

            while len(killed) < KILLS:
                # kill a worker while it holds a job, so the kill lands mid-job
                victim = rng.choice(wait_until(busy_workers, timeout=20))
                os.kill(workers[victim].pid, signal.SIGKILL)
                workers[victim].wait()
                killed.append(victim)
                spawn()
                time.sleep(0.5)
            # A paused worker (think: a long GC pause) outlives its lease; another worker takes its
            # job; resumed, the paused one must lose its completion, not write a second effect.
            zombie = rng.choice(wait_until(busy_workers, timeout=20))
            held = {job_id for job_id, owner in _running(store).items() if owner == zombie}
            os.kill(workers[zombie].pid, signal.SIGSTOP)
            try:
                wait_until(
                    lambda: (
                        any(owner not in (zombie, None) for job_id, owner in _running(store).items() if job_id in held)
                        or not held & set(_running(store))
                    ),
                    timeout=20,
                )
            finally:
                os.kill(workers[zombie].pid, signal.SIGCONT)
            wait_until(
                lambda: store.count_by_status()[JobStatus.SUCCEEDED] == JOBS,
                timeout=60,
            )
            survivors = [p for w, p in workers.items() if w not in killed]
            for process in survivors:
                process.send_signal(signal.SIGTERM)
            codes = [process.wait(timeout=15) for process in survivors]
        finally:
            for process in workers.values():
                if process.poll() is None:
                    process.kill()
                    process.wait()
            log.close()
        done = store.get_many(submitted)
        with store.engine.connect() as conn:
            effect_rows = dict(
                conn.execute(sa.select(sample_handlers.effects.c.job_id, sample_handlers.effects.c.attempt)).all()
            )

    assert codes == [0] * len(survivors), (tmp_path / "workers.log").read_text()[-3000:]
    assert {job.status for job in done.values()} == {JobStatus.SUCCEEDED}
    assert sorted(effect_rows) == sorted(submitted), "every job's effect exactly once"
    assert all(effect_rows[job_id] == job.attempts for job_id, job in done.items()), (
        "the effect is the winning attempt's"
    )
    assert max(job.attempts for job in done.values()) >= 2, "no kill interrupted a job: the test proved nothing"
    assert queue_depth(sqs_client, queues.dlq_url) == (0, 0)
    assert "lease lost" in (tmp_path / "workers.log").read_text(), "the paused worker never lost a lease"
