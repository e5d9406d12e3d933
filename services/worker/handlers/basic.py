"""Small handlers that exercise the pipeline: echo, sleep, cpu and fail."""

from __future__ import annotations

import hashlib
from typing import Any

import pydantic

from services.worker.context import JobContext
from services.worker.registry import handler


class _Payload(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


class SleepPayload(_Payload):
    """``{"seconds": number}``: how long to sleep, at most 60 s."""

    seconds: float = pydantic.Field(ge=0, le=60)


class CpuPayload(_Payload):
    """``{"rounds": int}``: how many chained SHA-256 rounds to compute."""

    rounds: int = pydantic.Field(ge=1, le=10_000_000)


class FailPayload(_Payload):
    """``{"message": str}`` (optional): the error the job fails with."""

    message: str = pydantic.Field(default="the fail handler always fails", max_length=1000)


@handler("echo")
def echo(payload: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """Return the payload unchanged."""
    return payload


@handler("sleep", payload=SleepPayload)
def sleep(payload: SleepPayload, ctx: JobContext) -> dict[str, float]:
    """Sleep for the given seconds (cut short if the worker stops), then report it."""
    ctx.sleep(payload.seconds)
    return {"slept": payload.seconds}


@handler("cpu", payload=CpuPayload)
def cpu(payload: CpuPayload, ctx: JobContext) -> dict[str, Any]:
    """Chain SHA-256 over its own digest ``rounds`` times; return the final digest."""
    digest = ctx.job_id.encode()
    for done in range(payload.rounds):
        if done % 100_000 == 0:
            ctx.check_cancelled()
        digest = hashlib.sha256(digest).digest()
    return {"rounds": payload.rounds, "digest": digest.hex()}


@handler("fail", payload=FailPayload)
def fail(payload: FailPayload, ctx: JobContext) -> None:
    """Always raise: each attempt is retried with backoff until the message is dead-lettered."""
    raise RuntimeError(payload.message)
