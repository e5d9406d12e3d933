"""The off-peak ``precompute`` job's contract: its payload, and the steps it runs.

The EventBridge schedule (and the local scheduler) send it on ``PRECOMPUTE.cron``
(:mod:`services.jobs.spec`). Its handler (:mod:`services.worker.handlers.precompute`) runs
every registered step in order, passing each the payload and the job's context; a step
returns a JSON summary kept in the job's result. The worker registers the shipped steps:
``job_stats`` (the per-type job aggregate) and ``warm_item_cache`` (the hottest items into
Redis); a module named in the worker's ``JOB_HANDLER_MODULES`` can add more with
:func:`precompute_step`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeVar

import pydantic

from services.jobs.context import JobContext
from services.jobs.types import declare

CORE: Final = "core"
"""The group of the job types every deployment runs."""


class PrecomputePayload(pydantic.BaseModel):
    """``{"top": int, "window_hours": number}``: how many hot keys a warming step takes, and
    the window the aggregate covers."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    top: int = pydantic.Field(default=1000, ge=1, le=100_000)
    window_hours: float = pydantic.Field(default=24, gt=0, le=24 * 90)


PRECOMPUTE_JOB: Final = declare(
    "precompute",
    payload=PrecomputePayload,
    group=CORE,
    description="Run every precompute step; the result maps each step to its summary.",
)

Step = Callable[[PrecomputePayload, JobContext], Mapping[str, Any]]
S = TypeVar("S", bound=Step)

_steps: dict[str, Step] = {}
_lock = threading.Lock()


def precompute_step(name: str) -> Callable[[S], S]:
    """Register a step of the ``precompute`` job; it returns a JSON summary kept in the job's result.

    Steps run in the order they were registered and must be idempotent: a job can run again
    after a crash. Raises ``ValueError`` for a name taken by another step.
    """

    def register(step: S) -> S:
        with _lock:
            if _steps.setdefault(name, step) is not step:
                raise ValueError(f"precompute step {name!r} is already registered")
        return step

    return register


def precompute_steps() -> dict[str, Step]:
    """The registered steps by name, in the order they run (a copy)."""
    with _lock:
        return dict(_steps)
