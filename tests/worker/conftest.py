"""Fixtures of the worker tests: the job fixtures, plus a worker running on a thread."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import structlog

from services.jobs import JobStore
from services.worker.registry import load_handlers
from services.worker.settings import WorkerSettings
from services.worker.worker import Worker
from tests.jobs.conftest import db_url, make_queues, scratch_job_types, sqlite_url  # noqa: F401 - shared with tests/jobs
from tests.support import wait_until
from tests.worker import sample_handlers

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

load_handlers(["tests.worker.sample_handlers"])

ROOT = Path(__file__).resolve().parents[2]

RunWorker = Callable[..., AbstractContextManager[Worker]]
"""``run_worker(store, queue_url, **settings)``: a worker on a thread, stopped when the block ends."""

FAST: dict[str, Any] = {
    "worker_concurrency": 4,
    "worker_receive_wait_seconds": 0,
    "worker_visibility_timeout_seconds": 30,
    "worker_heartbeat_seconds": 0.5,
    "worker_lease_seconds": 30,
    "worker_backoff_base_seconds": 0.1,
    "worker_backoff_max_seconds": 1,
    "worker_reaper_interval_seconds": 0,
    "worker_ack_flush_seconds": 0.1,
    "worker_drain_seconds": 5,
}
"""Short timings so a test takes seconds; each test overrides what it exercises."""

WORKER_VARIABLES = ("WORKER_", "QUEUE_URL", "DATABASE_URL", "DATABASE_SECRET_ARN", "JOB_HANDLER_MODULES", "LOG_")


@pytest.fixture(autouse=True)
def _no_worker_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from each test alone, never from the environment pytest runs in."""
    for name in [name for name in os.environ if name.startswith(WORKER_VARIABLES)]:
        monkeypatch.delenv(name)


def worker_env(**values: str) -> dict[str, str]:
    """A worker process's environment: this one's without its worker settings, plus ``values``."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(WORKER_VARIABLES)}
    return {**inherited, "PYTHONPATH": str(ROOT), **values}


@pytest.fixture
def isolated_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Let code under test call ``configure_logging`` without changing logging for later tests."""
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    monkeypatch.setattr(root, "level", root.level)
    yield
    structlog.reset_defaults()


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    """The gate ``test-gated`` jobs wait at: closed at the start, opened at the end (nothing stays blocked)."""
    sample_handlers.GATE.clear()
    yield sample_handlers.GATE
    sample_handlers.GATE.set()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[JobStore]:
    """A store on a SQLite file (the embedded default's backend)."""
    with JobStore.from_url(f"sqlite:///{tmp_path / 'worker.db'}") as opened:
        yield opened


@pytest.fixture
def run_worker(sqs_client: SQSClient) -> Iterator[RunWorker]:
    """Start workers on threads: ``with run_worker(store, queue_url, **config) as worker:``; stopped at exit."""
    started: list[tuple[Worker, threading.Thread]] = []

    @contextmanager
    def run(store: JobStore, queue_url: str, *, sqs: Any = None, **overrides: Any) -> Iterator[Worker]:
        settings = WorkerSettings(**{"queue_url": queue_url, "worker_id": f"w{len(started)}", **FAST, **overrides})
        worker = Worker(store=store, sqs=sqs or sqs_client, settings=settings)
        thread = threading.Thread(target=worker.run, name=f"worker-{settings.worker_id}")
        started.append((worker, thread))
        thread.start()
        wait_until(lambda: worker.receiving.is_set() or not thread.is_alive(), timeout=10)
        try:
            yield worker
        finally:
            worker.stop()
            thread.join(timeout=30)
            assert not thread.is_alive(), "the worker did not stop"

    yield run
    for worker, thread in started:
        worker.stop()
        thread.join(timeout=30)
