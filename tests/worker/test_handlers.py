"""The shipped handlers (and the precompute steps), called directly with a context."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from services.items.redis_layout import RedisLayout
from services.items.store import ItemStore
from services.jobs import JobStore
from services.jobs import precompute as contract
from services.jobs.context import JobCancelledError, JobContext
from services.jobs.types import validate_payload
from services.worker.handlers import precompute
from services.worker.handlers.warming import WARM_STEP
from services.worker.registry import handler_for


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
    return handler_for(job_type)(validate_payload(job_type, payload), ctx)


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

    def another_step(payload: contract.PrecomputePayload, ctx: JobContext) -> dict[str, int]:
        seen.append(payload.top)
        return {"keys": 0}

    monkeypatch.setattr(contract, "_steps", {precompute.JOB_STATS_STEP: precompute.rebuild_job_stats})
    contract.precompute_step("another")(another_step)
    result = _run(store, "precompute", {"top": 7, "window_hours": 1})
    assert result == {"job_stats": {"types": 1, "finished": 3}, "another": {"keys": 0}}
    assert seen == [7]
    (stats,) = store.job_stats()
    assert (stats.type, stats.total, stats.succeeded, stats.failed, stats.avg_run_ms) == ("echo", 3, 2, 1, 15.0)


def test_the_shipped_steps_run_job_stats_first_then_warming() -> None:
    assert list(contract.precompute_steps()) == [precompute.JOB_STATS_STEP, WARM_STEP]
    with pytest.raises(ValueError, match="'job_stats' is already registered"):
        contract.precompute_step(precompute.JOB_STATS_STEP)(lambda payload, ctx: {})


def _clear_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REDIS_URL", "REDIS_AUTH_TOKEN", "REDIS_AUTH_SECRET_ARN", "REDIS_PREFIX", "REDIS_TTL_SECONDS"):
        monkeypatch.delenv(name, raising=False)


def test_the_warming_step_copies_the_hottest_items_into_redis(
    store: JobStore, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker's own step, configured by the REDIS_* settings of its environment."""
    prefix = f"t{secrets.token_hex(4)}:"
    ItemStore(store.engine).put("a", "1")
    client = redis.Redis.from_url(redis_url)
    try:
        client.zadd(RedisLayout(prefix).hot, {"a": 2})
        _clear_environment(monkeypatch)
        skipped: Any = _run(store, "precompute", {"top": 10})
        assert skipped[WARM_STEP] == {"skipped": "REDIS_URL is not set"}

        monkeypatch.setenv("REDIS_URL", redis_url)
        monkeypatch.setenv("REDIS_PREFIX", prefix)
        monkeypatch.setenv("REDIS_TTL_SECONDS", "77")
        result: Any = _run(store, "precompute", {"top": 10})
        assert result[WARM_STEP] == {"hot_keys": 1, "warmed": 1, "missing": 0, "newer_in_redis": 0}
        assert client.get(f"{prefix}item:a") == b"1:1"
        assert 0 < client.ttl(f"{prefix}item:a") <= 77
    finally:
        stale = list(client.scan_iter(f"{prefix}*"))
        if stale:
            client.delete(*stale)
        client.close()
