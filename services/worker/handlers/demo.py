"""The handlers of the demo job types (:mod:`services.jobs.demo`): echo, sleep, cpu and fail."""

from __future__ import annotations

import hashlib
from typing import Any

from services.jobs.context import JobContext
from services.jobs.demo import CPU, ECHO, FAIL, SLEEP, CpuPayload, FailPayload, SleepPayload
from services.worker.registry import handler


@handler(ECHO)
def echo(payload: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """Return the payload unchanged."""
    return payload


@handler(SLEEP)
def sleep(payload: SleepPayload, ctx: JobContext) -> dict[str, float]:
    """Sleep for the given seconds (cut short if the worker stops), then report it."""
    ctx.sleep(payload.seconds)
    return {"slept": payload.seconds}


@handler(CPU)
def cpu(payload: CpuPayload, ctx: JobContext) -> dict[str, Any]:
    """Chain SHA-256 over its own digest ``rounds`` times; return the final digest."""
    digest = ctx.job_id.encode()
    for done in range(payload.rounds):
        if done % 100_000 == 0:
            ctx.check_cancelled()
        digest = hashlib.sha256(digest).digest()
    return {"rounds": payload.rounds, "digest": digest.hex()}


@handler(FAIL)
def fail(payload: FailPayload, ctx: JobContext) -> None:
    """Always raise: each attempt is retried with backoff until the message is dead-lettered."""
    raise RuntimeError(payload.message)
