"""The precompute step ``warm_item_cache``: copy the hottest items into Redis (after ``job_stats``).

It reads the Redis settings (:class:`~services.items.redis_settings.RedisSettings`:
``REDIS_URL``, the AUTH token, ``REDIS_PREFIX``, ``REDIS_TTL_SECONDS``) from the worker's
environment at each run — the worker checked them at start — so a rotated AUTH secret is
picked up; without ``REDIS_URL`` the step does nothing. See :mod:`services.items.warming`.
"""

from __future__ import annotations

from typing import Any, Final

from services.items.redis_settings import RedisSettings
from services.items.warming import warm_cache
from services.jobs.context import JobContext
from services.jobs.precompute import PrecomputePayload, precompute_step
from services.settings import read_settings

WARM_STEP: Final = "warm_item_cache"


@precompute_step(WARM_STEP)
def warm_item_cache(payload: PrecomputePayload, ctx: JobContext) -> dict[str, Any]:
    """Warm Redis with the ``payload.top`` hottest items (idempotent: it never replaces a newer copy)."""
    return warm_cache(read_settings(RedisSettings), ctx.store.engine, top=payload.top)
