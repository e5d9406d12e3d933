"""Cache warming for the off-peak ``precompute`` job: put the hottest items into Redis.

API nodes count item reads into a Redis sorted set (``{prefix}hot``); this step reads the
``top`` hottest keys, loads them from the database in batches and stores them in Redis
with the same version check as the read path, so it never replaces a newer copy. Nodes
then find them in Redis on their first miss instead of going to the database.

:func:`warm_from_environment` is what the ``warm_item_cache`` precompute step runs (see
:mod:`services.api.handlers`): it reads ``REDIS_URL`` (and ``REDIS_AUTH_TOKEN`` or
``REDIS_AUTH_SECRET_ARN``), ``API_REDIS_PREFIX`` and ``API_REDIS_TTL_SECONDS`` from the
environment, as the API does. Without ``REDIS_URL`` it does nothing.
"""

from __future__ import annotations

from typing import Any

import redis
import sqlalchemy as sa
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.api.aws_secrets import redis_auth_token
from services.api.errors import InvalidKeyError
from services.api.items_store import ItemStore
from services.api.keys import validate_key
from services.api.redis_layout import (
    DEFAULT_PREFIX,
    DEFAULT_TTL_SECONDS,
    SET_IF_NEWER,
    RedisLayout,
    connection_options,
)


class WarmingSettings(BaseSettings):
    """The API settings the warming step needs (the same variables)."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")

    redis_url: str | None = None
    redis_auth_token: SecretStr | None = None
    redis_auth_secret_arn: str | None = None
    api_redis_prefix: str = DEFAULT_PREFIX
    api_redis_ttl_seconds: int = Field(default=DEFAULT_TTL_SECONDS, ge=1)


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


def warm_from_environment(engine: sa.Engine, *, top: int) -> dict[str, Any]:
    """Warm Redis with the ``top`` hottest items of the database behind ``engine``, configured
    from the environment; returns the counts of :func:`warm_hot_items` or why it skipped."""
    settings = WarmingSettings()
    if not settings.redis_url:
        return {"skipped": "REDIS_URL is not set"}
    token = settings.redis_auth_token.get_secret_value() if settings.redis_auth_token else None
    if settings.redis_auth_secret_arn:
        token = redis_auth_token(settings.redis_auth_secret_arn)
    store = ItemStore(engine)
    client = redis.Redis.from_url(settings.redis_url, **connection_options(token))
    try:
        return warm_hot_items(
            store,
            client,
            layout=RedisLayout(settings.api_redis_prefix),
            ttl=settings.api_redis_ttl_seconds,
            top=top,
        )
    finally:
        client.close()
