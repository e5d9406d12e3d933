"""The off-peak ``precompute`` job: prepare work before the day's traffic needs it.

It runs every registered step in order. The shipped step rebuilds the per-type job
aggregate (counts, success rate, run time over a window) that the API can serve; another
part of the system adds a step with :func:`precompute_step` — for example warming the
caches with the ``top`` hottest item keys — in a module named in ``JOB_HANDLER_MODULES``.
The EventBridge schedule (and the local scheduler) send it on ``PRECOMPUTE.cron``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import pydantic

from services.worker.context import JobContext
from services.worker.registry import handler


class PrecomputePayload(pydantic.BaseModel):
    """``{"top": int, "window_hours": number}``: how many hot keys a warming step takes, and
    the window the aggregate covers."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    top: int = pydantic.Field(default=1000, ge=1, le=100_000)
    window_hours: float = pydantic.Field(default=24, gt=0, le=24 * 90)


Step = Callable[[PrecomputePayload, JobContext], Mapping[str, Any]]
S = TypeVar("S", bound=Step)

_steps: dict[str, Step] = {}
_lock = threading.Lock()


def precompute_step(name: str) -> Callable[[S], S]:
    """Register a step of the ``precompute`` job; it returns a JSON summary kept in the job's result.

    Steps must be idempotent: a job can run again after a crash. Raises ``ValueError`` for a taken name.
    """

    def register(step: S) -> S:
        with _lock:
            if name in _steps and _steps[name] is not step:
                raise ValueError(f"precompute step {name!r} is already registered")
            _steps[name] = step
        return step

    return register


def precompute_steps() -> tuple[str, ...]:
    """The registered step names, in the order they run."""
    with _lock:
        return tuple(_steps)


@precompute_step("job_stats")
def rebuild_job_stats(payload: PrecomputePayload, ctx: JobContext) -> dict[str, Any]:
    """Rebuild the per-type aggregate of the jobs finished in the window."""
    rows = ctx.store.rebuild_job_stats(window_seconds=payload.window_hours * 3600)
    return {"types": len(rows), "finished": sum(row.total for row in rows)}


@handler("precompute", payload=PrecomputePayload)
def precompute(payload: PrecomputePayload, ctx: JobContext) -> dict[str, Any]:
    """Run every precompute step; the result maps each step to its summary."""
    with _lock:
        steps = list(_steps.items())
    results: dict[str, Any] = {}
    for name, step in steps:
        ctx.check_cancelled()
        results[name] = dict(step(payload, ctx))
    return results
