"""The shipped handlers, called directly with a context."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator

import pytest

from services.jobs import JobStore
from services.worker.context import JobCancelledError, JobContext
from services.worker.handlers import precompute
from services.worker.registry import get_job_type, validate_payload


@pytest.fixture
def store(sqlite_url: str) -> Iterator[JobStore]:
    with JobStore.from_url(sqlite_url) as opened:
        yield opened


def _run(
    store: JobStore, job_type: str, payload: dict[str, object], cancelled: threading.Event | None = None
) -> object:
    ctx = JobContext(job_id="job-1", type=job_type, attempt=1, receive_count=1, store=store)
    if cancelled is not None:
        ctx.cancelled = cancelled
    return get_job_type(job_type).func(validate_payload(job_type, payload), ctx)


def test_echo_returns_its_payload(store: JobStore) -> None:
    assert _run(store, "echo", {"a": [1, {"b": None}]}) == {"a": [1, {"b": None}]}


def test_cpu_chains_sha256_over_the_job_id(store: JobStore) -> None:
    digest = b"job-1"
    for _ in range(3):
        digest = hashlib.sha256(digest).digest()
    assert _run(store, "cpu", {"rounds": 3}) == {"rounds": 3, "digest": digest.hex()}


def test_sleep_sleeps_and_stops_early_when_cancelled(store: JobStore) -> None:
    started = time.monotonic()
    assert _run(store, "sleep", {"seconds": 0.2}) == {"slept": 0.2}
    assert time.monotonic() - started >= 0.2
    # A minute's sleep, cancelled after 0.1 s, ends with JobCancelledError long before the minute.
    cancelled = threading.Event()
    raised: list[BaseException] = []

    def sleep_a_minute() -> None:
        try:
            _run(store, "sleep", {"seconds": 60}, cancelled)
        except BaseException as error:
            raised.append(error)

    sleeper = threading.Thread(target=sleep_a_minute)
    sleeper.start()
    timer = threading.Timer(0.1, cancelled.set)
    timer.start()
    sleeper.join(timeout=30)
    timer.join()
    assert not sleeper.is_alive(), "the sleep did not stop when cancelled"
    assert [type(error) for error in raised] == [JobCancelledError]


def test_fail_always_raises_its_message(store: JobStore) -> None:
    with pytest.raises(RuntimeError, match="on purpose"):
        _run(store, "fail", {"message": "on purpose"})


def test_precompute_runs_every_registered_step(store: JobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    for i, ok in enumerate([True, True, False]):
        job, _ = store.create("echo", {"i": i})
        store.claim([job.id], owner="w#1", lease_seconds=10)
        if ok:
            store.complete(job.id, owner="w#1", result=None, run_ms=10 * (i + 1))
        else:
            store.fail(job.id, owner="w#1", error="x")
    seen: list[int] = []

    def warm_cache(payload: precompute.PrecomputePayload, ctx: JobContext) -> dict[str, int]:
        seen.append(payload.top)
        return {"keys": 0}

    monkeypatch.setitem(precompute._steps, "warm_cache", warm_cache)
    result = _run(store, "precompute", {"top": 7, "window_hours": 1})
    assert result == {"job_stats": {"types": 1, "finished": 3}, "warm_cache": {"keys": 0}}
    assert seen == [7]
    assert precompute.precompute_steps()[0] == "job_stats"
    (stats,) = store.job_stats()
    assert (stats.type, stats.total, stats.succeeded, stats.failed, stats.avg_run_ms) == ("echo", 3, 2, 1, 15.0)
