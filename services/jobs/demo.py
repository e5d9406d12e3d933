"""The demo job types: small jobs that exercise the pipeline — echo, sleep, cpu and fail.

They are one group, ``demo`` (:data:`DEMO_JOB_TYPES`), so they can be accepted or refused
as a unit; the worker's handlers for them are in :mod:`services.worker.handlers.demo`.
"""

from __future__ import annotations

from typing import Final

import pydantic

from services.jobs.types import JobType, declare

DEMO: Final = "demo"
"""The group of the demo job types."""


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


ECHO: Final = declare("echo", group=DEMO, description="Return the payload unchanged.")
SLEEP: Final = declare(
    "sleep",
    payload=SleepPayload,
    group=DEMO,
    description="Sleep for the given seconds (cut short if the worker stops), then report it.",
)
CPU: Final = declare(
    "cpu",
    payload=CpuPayload,
    group=DEMO,
    description="Chain SHA-256 over its own digest `rounds` times; return the final digest.",
)
FAIL: Final = declare(
    "fail",
    payload=FailPayload,
    group=DEMO,
    description="Always raise: each attempt is retried with backoff until the message is dead-lettered.",
)

DEMO_JOB_TYPES: Final[tuple[JobType, ...]] = (ECHO, SLEEP, CPU, FAIL)
"""Every type of the ``demo`` group."""
