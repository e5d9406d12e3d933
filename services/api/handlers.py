"""The API's additions to the worker: import this module through ``JOB_HANDLER_MODULES``.

With ``JOB_HANDLER_MODULES=services.api.handlers`` the worker registers the precompute
step ``warm_item_cache``, which copies the hottest items into Redis after the job-stats
step (see :mod:`services.api.warming`).
"""

from __future__ import annotations

from typing import Any, Final

from services.api.warming import warm_from_environment
from services.worker.context import JobContext
from services.worker.handlers.precompute import PrecomputePayload, precompute_step

WARM_STEP: Final = "warm_item_cache"
"""The precompute step this module registers."""


@precompute_step(WARM_STEP)
def warm_item_cache(payload: PrecomputePayload, ctx: JobContext) -> dict[str, Any]:
    """Warm Redis with the ``payload.top`` hottest items (idempotent: it never replaces a newer copy)."""
    return warm_from_environment(ctx.store.engine, top=payload.top)
