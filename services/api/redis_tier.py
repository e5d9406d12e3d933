"""The shared Redis tier: item copies, the invalidation channel and hot-key counts (async).

Redis is a cache, never the truth: every error here is logged and treated as a miss (or a
skipped write), so a Redis outage slows reads down to the database instead of failing them.
A write whose Redis update fails leaves the old copy there until its TTL runs out.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from services.items.redis_layout import (
    SET_IF_NEWER,
    RedisLayout,
    connection_options,
    decode_entry,
    invalidation_message,
    parse_invalidation,
)

_log = structlog.get_logger(__name__)

Invalidate = Callable[[str, int], None]
"""Called with ``(key, version)`` for every write another node announces."""

_ERRORS = (RedisError, OSError, asyncio.TimeoutError)
_WARN_EVERY = 10.0


class RedisTier:
    """Item copies in Redis under ``layout``, kept ``ttl`` seconds; ``node`` names this node in messages."""

    def __init__(self, client: aioredis.Redis, *, layout: RedisLayout, ttl: int, node: str) -> None:
        self.client = client
        self.layout = layout
        self.ttl = ttl
        self.node = node
        self.listening = False
        """True while subscribed to the invalidation channel (so every copy is kept current)."""
        self._set_if_newer = client.register_script(SET_IF_NEWER)
        self._last_warning = float("-inf")
        self._closing = False

    @classmethod
    def from_url(cls, url: str, *, auth_token: str | None, layout: RedisLayout, ttl: int, node: str) -> RedisTier:
        """Connect lazily to ``url`` (``rediss://`` for TLS); ``auth_token`` overrides the URL's password."""
        client = aioredis.from_url(url, **connection_options(auth_token))
        return cls(client, layout=layout, ttl=ttl, node=node)

    async def aclose(self) -> None:
        """Stop :meth:`listen` and close the connection pool (which also ends a pending read)."""
        self._closing = True
        await self.client.aclose()

    async def ping(self) -> None:
        """PING; raises a Redis error if Redis cannot answer."""
        await self.client.ping()

    async def get(self, key: str) -> tuple[bytes, int] | None:
        """``(value JSON, version)`` of ``key`` from Redis, or None (also when Redis fails)."""
        try:
            raw = await self.client.get(self.layout.item(key))
        except _ERRORS as error:
            self._warn("redis read failed; reading the database", error)
            return None
        return None if raw is None else decode_entry(raw if isinstance(raw, bytes) else raw.encode())

    async def put(self, key: str, value: bytes, version: int) -> bool:
        """Store ``version`` of ``key`` unless Redis has a newer one; False if skipped or failed."""
        try:
            stored = await self._set_if_newer(keys=[self.layout.item(key)], args=[version, value, self.ttl])
        except _ERRORS as error:
            self._warn("redis write failed; its copy expires with its TTL", error)
            return False
        return bool(stored)

    async def announce(self, key: str, version: int) -> None:
        """Tell every node that ``version`` of ``key`` was written, so older copies are dropped."""
        try:
            await self.client.publish(self.layout.channel, invalidation_message(key, version, self.node))
        except _ERRORS as error:
            self._warn("redis publish failed; other copies expire with their TTL", error)

    async def listen(self, on_invalidate: Invalidate, on_resubscribe: Callable[[], None]) -> None:
        """Apply invalidations until cancelled, resubscribing after errors.

        ``on_resubscribe`` runs each time the subscription is (re)established, before
        :attr:`listening` turns true: messages sent while unsubscribed are lost, so the
        caller drops the copies they might have invalidated.
        """
        delay = 0.1
        while not self._closing:
            try:
                async with self.client.pubsub() as pubsub:
                    await pubsub.subscribe(self.layout.channel)
                    on_resubscribe()
                    self.listening = True
                    delay = 0.1
                    while not self._closing:
                        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                        if message is not None and message.get("type") == "message":
                            parsed = parse_invalidation(message["data"])
                            if parsed is not None:
                                on_invalidate(*parsed)
            except _ERRORS as error:
                if self._closing:
                    return
                self._warn("redis subscription lost; retrying", error)
            finally:
                self.listening = False
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    def _warn(self, message: str, error: BaseException) -> None:
        now = time.monotonic()
        if now - self._last_warning >= _WARN_EVERY:
            self._last_warning = now
            _log.warning(message, error=f"{type(error).__name__}: {error}")


class HotKeys:
    """Counts item reads in memory and adds them to the Redis sorted set in batches.

    One pipeline per flush instead of a round trip per read; the set is trimmed to the
    ``keep`` hottest keys. While more than ``keep`` distinct keys wait, new ones are not counted.
    """

    def __init__(self, client: aioredis.Redis, *, layout: RedisLayout, keep: int) -> None:
        self._client = client
        self._layout = layout
        self._keep = keep
        self._counts: Counter[str] = Counter()

    def record(self, key: str) -> None:
        """Count one read of ``key``."""
        counts = self._counts
        if key in counts or len(counts) < self._keep:
            counts[key] += 1

    async def flush(self) -> int:
        """Send the counts so far to Redis; return how many keys were sent (0 if Redis failed)."""
        counts, self._counts = self._counts, Counter()
        if not counts:
            return 0
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for key, count in counts.items():
                    pipe.zincrby(self._layout.hot, count, key)
                pipe.zremrangebyrank(self._layout.hot, 0, -self._keep - 1)
                await pipe.execute()
        except _ERRORS as error:
            _log.warning("hot-key counts not sent", error=str(error), keys=len(counts))
            return 0
        return len(counts)

    async def run(self, interval: float) -> None:
        """Flush every ``interval`` seconds until cancelled (flush once more after cancelling)."""
        while True:
            await asyncio.sleep(interval)
            await self.flush()
