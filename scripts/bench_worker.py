"""Benchmark: what the worker spends per job — SQS calls, database round trips — and its speed.

One worker (this process, 10 job threads) with the ``echo`` handler against the local
PostgreSQL and a moto SQS server in a process of its own, run on the same jobs in the same
run: as shipped (receive 10, delete in batches of 10) and in single-message mode (receive
1, delete 1 — the baseline). The job rows are written first; a feeder then keeps about
``--depth`` messages waiting on the queue (enough for full batches), because moto's
receive slows down in proportion to the queue's depth and a deep backlog would measure
moto rather than the worker.

Costs are counted, not timed: AWS calls through botocore's event hooks on the worker's
client (the feeder has its own), database round trips through SQLAlchemy's events
(statements, pre-pings, BEGIN/COMMIT). Steady state is the window between 10% and 90% of
the jobs done. moto answers a call in milliseconds, which bounds the throughput here; the
call counts are what carries over to AWS. Logs are at WARNING so the table stays readable.

    python scripts/bench_worker.py [--jobs 2000] [--runs 2] [--depth 20]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
import sqlalchemy as sa
from benchkit import make_console, new_results, save_results
from callcount import AwsCallCounter, RoundTripCounter
from rich.table import Table

from services.jobs import JobStore, sqs_client
from services.jobs.spec import job_message_body
from services.local.cluster import free_port
from services.logs import configure_logging
from services.worker.settings import WorkerSettings
from services.worker.worker import Worker

RESULTS = Path("results/bench_worker.json")
ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TARGET_SQS_CALLS = 0.25
TARGET_DB_TRIPS = 3.0


@dataclass
class Sample:
    at: float
    done: int
    aws: Counter[str]
    statements: int
    transaction_control: int
    pings: int


@dataclass
class Run:
    mode: str
    jobs: int
    samples: list[Sample] = field(default_factory=list)
    seconds: float = 0.0

    def window(self) -> tuple[Sample, Sample]:
        """The first samples at or past 10% and 90% of the jobs done."""
        low = next(s for s in self.samples if s.done >= self.jobs * 0.1)
        high = next(s for s in self.samples if s.done >= self.jobs * 0.9)
        return low, high

    def summary(self) -> dict[str, Any]:
        low, high = self.window()
        jobs = high.done - low.done
        calls = high.aws - low.aws
        last = self.samples[-1]
        db = {
            "statements": (high.statements - low.statements) / jobs,
            "transaction_control": (high.transaction_control - low.transaction_control) / jobs,
            "pings": (high.pings - low.pings) / jobs,
        }
        return {
            "mode": self.mode,
            "jobs": self.jobs,
            "steady_jobs": jobs,
            "jobs_per_s": jobs / (high.at - low.at),
            "jobs_per_s_overall": self.jobs / self.seconds,
            "sqs_calls_per_job": sum(calls.values()) / jobs,
            "sqs_calls_per_job_by_operation": {op: n / jobs for op, n in sorted(calls.items())},
            "sqs_calls_per_job_overall": sum(last.aws.values()) / self.jobs,
            "db_round_trips_per_job": sum(db.values()),
            "db_round_trips_per_job_by_kind": db,
        }


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{endpoint}/moto-api/", timeout=1)
            return process, endpoint
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the moto server did not start")


def scratch_database() -> tuple[str, sa.Engine]:
    name = f"bench_worker_{secrets.token_hex(4)}"
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    return sa.make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False), admin


def make_queue(setup_sqs: Any, mode: str) -> str:
    name = f"bench-{mode}-{secrets.token_hex(3)}"
    dlq = setup_sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    arn = setup_sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": "5"})
    return str(setup_sqs.create_queue(QueueName=name, Attributes={"RedrivePolicy": policy})["QueueUrl"])


def create_jobs(db_url: str, jobs: int) -> list[str]:
    """Write the job rows (untimed); return their message bodies."""
    with JobStore.from_url(db_url) as store:
        created = [store.create("echo", {"i": i})[0] for i in range(jobs)]
    return [job_message_body(job.id, job.type, job.payload) for job in created]


def feed(setup_sqs: Any, queue_url: str, bodies: list[str], worker: Worker, depth: int, stop: threading.Event) -> None:
    """Keep about ``depth`` messages waiting: send a batch whenever fewer are left."""
    sent = 0
    while sent < len(bodies) and not stop.is_set():
        if sent - worker.metrics.messages_received >= depth:
            time.sleep(0.001)
            continue
        chunk = bodies[sent : sent + 10]
        entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(chunk)]
        setup_sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        sent += len(chunk)


def run_once(db_url: str, setup_sqs: Any, mode: str, jobs: int, depth: int) -> Run:
    queue_url = make_queue(setup_sqs, mode)
    bodies = create_jobs(db_url, jobs)
    settings = WorkerSettings(
        queue_url=queue_url,
        worker_id=f"bench-{mode}",
        worker_concurrency=10,
        worker_batch_size=10 if mode == "batched" else 1,
        worker_receive_wait_seconds=1,
        worker_reaper_interval_seconds=0,
    )
    run = Run(mode=mode, jobs=jobs)
    stop = threading.Event()
    with JobStore.from_url(db_url, pool_size=16) as store:
        sqs = sqs_client(queue_url=queue_url, max_pool_connections=16)
        worker = Worker(store=store, sqs=sqs, settings=settings)
        aws, trips = AwsCallCounter(sqs), RoundTripCounter(*store.engines)

        def sample(done: int) -> Sample:
            return Sample(
                time.monotonic(), done, Counter(aws.calls), trips.statements, trips.transaction_control, trips.pings
            )

        feeder = threading.Thread(target=feed, args=(setup_sqs, queue_url, bodies, worker, depth, stop), name="feeder")
        thread = threading.Thread(target=worker.run, name="bench-worker")
        started = time.monotonic()
        thread.start()
        feeder.start()
        try:
            while (done := worker.metrics.jobs_succeeded) < jobs:
                run.samples.append(sample(done))
                time.sleep(0.01)
                if not thread.is_alive():
                    raise RuntimeError(f"the worker stopped early after {done} jobs")
            run.seconds = time.monotonic() - started
            run.samples.append(sample(jobs))
        finally:
            stop.set()
            worker.stop()
            feeder.join()
            thread.join()
            aws.close()
            trips.close()
    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2000, help="backlog size per run (default 2000)")
    parser.add_argument("--runs", type=int, default=2, help="runs per mode; the fastest is reported (default 2)")
    parser.add_argument("--depth", type=int, default=20, help="messages kept waiting on the queue (default 20)")
    args = parser.parse_args()
    console = make_console()
    configure_logging("bench", level="WARNING", json=False)
    try:
        db_url, admin = scratch_database()
    except sa.exc.OperationalError as error:
        console.print(f"bench_worker: PostgreSQL is needed at {ADMIN_URL}: {type(error).__name__}")
        return 1
    moto, endpoint = start_moto()
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    for name, value in {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        os.environ.setdefault(name, value)
    try:
        setup_sqs = boto3.client("sqs", region_name="us-east-1")
        best: dict[str, dict[str, Any]] = {}
        for _ in range(args.runs):
            for mode in ("batched", "single"):
                summary = run_once(db_url, setup_sqs, mode, args.jobs, args.depth).summary()
                if mode not in best or summary["jobs_per_s"] > best[mode]["jobs_per_s"]:
                    best[mode] = summary
    finally:
        moto.terminate()
        moto.wait()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{sa.make_url(db_url).database}" WITH (FORCE)'))
        admin.dispose()

    results: dict[str, Any] = {
        **new_results(),
        "database": "PostgreSQL (local)",
        "queue": "moto server (local process)",
        "jobs_per_run": args.jobs,
        "queue_depth_kept": args.depth,
        "runs_per_mode": args.runs,
        "modes": best,
    }
    batched, single = best["batched"], best["single"]
    table = Table(title=f"Worker cost per job and speed, echo handler ({results['date'][:10]})")
    columns = (
        "mode",
        "receives/job",
        "deletes/job",
        "SQS calls/job",
        "DB round trips/job",
        "jobs/s",
        "jobs/s whole run",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "mode" else "right")
    for summary in (batched, single):
        by_operation = summary["sqs_calls_per_job_by_operation"]
        deletes = sum(n for op, n in by_operation.items() if op.startswith("DeleteMessage"))
        table.add_row(
            "batched (as shipped)" if summary is batched else "single-message (baseline)",
            f"{by_operation.get('ReceiveMessage', 0):.3f}",
            f"{deletes:.3f}",
            f"{summary['sqs_calls_per_job']:.3f}",
            f"{summary['db_round_trips_per_job']:.2f}",
            f"{summary['jobs_per_s']:.0f}",
            f"{summary['jobs_per_s_overall']:.0f}",
        )
    console.print(table)
    speedup = batched["jobs_per_s"] / single["jobs_per_s"]
    results["batched_over_single_jobs_per_s"] = speedup
    console.print(f"machine: {results['machine']}")
    console.print(f"batched ÷ single-message throughput: {speedup:.2f}x")
    checks = Table(title="Targets (batched worker, steady state)")
    for column in ("target", "measured", "limit", "met"):
        checks.add_column(column, justify="left" if column == "target" else "right")
    targets: dict[str, dict[str, Any]] = {}
    for name, measured, limit in (
        ("SQS calls per job", batched["sqs_calls_per_job"], TARGET_SQS_CALLS),
        ("database round trips per job", batched["db_round_trips_per_job"], TARGET_DB_TRIPS),
    ):
        targets[name] = {"measured": measured, "at_most": limit, "met": measured <= limit}
        checks.add_row(name, f"{measured:.3f}", f"<= {limit:g}", "PASS" if measured <= limit else "FAIL")
    console.print(checks)
    results["targets"] = targets
    save_results(console, results, RESULTS)
    return 0 if all(target["met"] for target in targets.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
