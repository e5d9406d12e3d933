"""The off-peak ``precompute`` job: prepare work before the day's traffic needs it.

Its handler runs every registered step (:func:`services.jobs.precompute.precompute_step`)
in order. This module registers the first, ``job_stats``: it rebuilds the per-type job
aggregate (counts, success rate, run time over a window) that the API can serve; the next,
``warm_item_cache``, is in :mod:`services.worker.handlers.warming`.
"""

from __future__ import annotations

from typing import Any, Final

from services.jobs.context import JobContext
from services.jobs.precompute import PRECOMPUTE_JOB, PrecomputePayload, precompute_step, precompute_steps
from services.worker.registry import handler

JOB_STATS_STEP: Final = "job_stats"


@precompute_step(JOB_STATS_STEP)
def rebuild_job_stats(payload: PrecomputePayload, ctx: JobContext) -> dict[str, Any]:
    """Rebuild the per-type aggregate of the jobs finished in the window."""
    rows = ctx.store.rebuild_job_stats(window_seconds=payload.window_hours * 3600)
    return {"types": len(rows), "finished": sum(row.total for row in rows)}


@handler(PRECOMPUTE_JOB)
def precompute(payload: PrecomputePayload, ctx: JobContext) -> dict[str, Any]:
    """Run every precompute step; the result maps each step to its summary."""
    results: dict[str, Any] = {}
    for name, step in precompute_steps().items():
        ctx.check_cancelled()
        results[name] = dict(step(payload, ctx))
    return results
