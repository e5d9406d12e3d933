"""Cache warming for the off-peak ``precompute`` job: put the hottest items into Redis.

API nodes count item reads into a Redis sorted set (``{prefix}hot``); warming reads the
``top`` hottest keys, loads them from the database in batches and stores them in Redis
with the same version check as the read path, so it never replaces a newer copy. Nodes
then find them in Redis on their first miss instead of going to the database.

:func:`warm_cache` is what the worker's ``warm_item_cache`` precompute step runs
(:mod:`services.worker.handlers.warming`); without ``REDIS_URL`` it does nothing.
"""

from __future__ import annotations

from typing import Any

import redis
import sqlalchemy as sa

from services.items.keys import InvalidKeyError, validate_key
from services.items.redis_layout import SET_IF_NEWER, RedisLayout, connection_options
from services.items.redis_settings import RedisSettings
from services.items.store import ItemStore


def warm_hot_items(store: ItemStore, client: redis.Redis, *, layout: RedisLayout, ttl: int, top: int) -> dict[str, int]:
    """Copy the ``top`` hottest items from the database into Redis; return counts of what happened.

    ``hot_keys``: keys read from the sorted set; ``warmed``: copies written; ``missing``:
    hot keys with no item (never written); ``newer_in_redis``: copies left because Redis
    already had a newer version.
    """
    raw = client.zrevrange(layout.hot, 0, top - 1)
    keys = []
    for entry in raw:
        try:
            keys.append(validate_key(entry.decode() if isinstance(entry, bytes) else str(entry)))
        except (InvalidKeyError, UnicodeDecodeError):
            continue  # not written by an API node: ignore it
    found = store.get_many(keys)
    script = client.register_script(SET_IF_NEWER)
    pipe = client.pipeline(transaction=False)
    for item in found.values():
        script(keys=[layout.item(item.key)], args=[item.version, item.value, ttl], client=pipe)
    written = sum(1 for stored in pipe.execute() if stored)
    return {
        "hot_keys": len(keys),
        "warmed": written,
        "missing": len(keys) - len(found),
        "newer_in_redis": len(found) - written,
    }


def warm_cache(settings: RedisSettings, engine: sa.Engine, *, top: int) -> dict[str, Any]:
    """Warm the Redis of ``settings`` with the ``top`` hottest items of the database behind
    ``engine``; returns the counts of :func:`warm_hot_items`, or why it skipped."""
    if not settings.redis_url:
        return {"skipped": "REDIS_URL is not set"}
    client = redis.Redis.from_url(settings.redis_url, **connection_options(settings.auth_token()))
    try:
        return warm_hot_items(
            ItemStore(engine), client, layout=settings.layout, ttl=settings.redis_ttl_seconds, top=top
        )
    finally:
        client.close()
