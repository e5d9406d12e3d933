"""Cache-aside reads and writes of items on the node that serves them.

Reads go local LRU → Redis → database and fill the tiers they missed on the way back;
writes go to the database first, then replace the cached copies and announce the new
version, so other nodes drop theirs. Misses and writes of one key are serialised on this
node (a per-key lock), so a slow read can never put back a value older than a write, and
a burst of misses for one key costs one database read. The database is reached from
worker threads; everything else runs on the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from anyio import to_thread

from services.api.keyed_locks import KeyedLocks
from services.api.lru import LRUCache
from services.api.metrics import Metrics
from services.api.redis_tier import HotKeys, RedisTier
from services.items.store import ItemStore, StoredItem

Tier = Literal["local", "redis", "db"]


@dataclass(frozen=True, slots=True)
class ItemRead:
    """A value's JSON bytes, its version and the tier that answered."""

    value: bytes
    version: int
    tier: Tier


class ItemService:
    """The read and write paths of items served by this node."""

    def __init__(
        self,
        store: ItemStore,
        cache: LRUCache,
        *,
        metrics: Metrics,
        redis: RedisTier | None = None,
        hot_keys: HotKeys | None = None,
    ) -> None:
        self.store = store
        self.cache = cache
        self.redis = redis
        self.hot_keys = hot_keys
        self._metrics = metrics
        self._locks = KeyedLocks()

    def read_cached(self, key: str) -> ItemRead | None:
        """The local copy of ``key`` if there is one (no waiting, counted as a local hit)."""
        item = self.cache.get(key)
        if item is None:
            return None
        self._record(key, "local")
        return ItemRead(item.value, item.version, "local")

    async def read(self, key: str, *, keep_local: bool) -> ItemRead | None:
        """Read ``key`` through the tiers; None if it does not exist.

        Call it when :meth:`read_cached` found nothing: it waits for the key's lock before
        looking again. ``keep_local``: whether this node may keep a local copy (it owns the
        key, or invalidations reach it).
        """
        async with self._locks(key):
            found = self.read_cached(key)  # another reader filled it while this one waited
            if found is not None:
                return found
            if self.redis is not None:
                copy = await self.redis.get(key)
                if copy is not None:
                    if keep_local:
                        self.cache.put(key, *copy)
                    self._record(key, "redis")
                    return ItemRead(copy[0], copy[1], "redis")
            stored = await to_thread.run_sync(self.store.get, key)
            if stored is None:
                self._metrics.tier["missing"].inc()
                return None
            value = stored.value.encode()
            if self.redis is not None:
                await self.redis.put(key, value, stored.version)
            if keep_local:
                self.cache.put(key, value, stored.version)
            self._record(key, "db")
            return ItemRead(value, stored.version, "db")

    async def write(self, key: str, value: str, *, keep_local: bool) -> tuple[StoredItem, bool]:
        """Store JSON text ``value`` under ``key``; return the stored item and whether it was created."""
        async with self._locks(key):
            stored, created = await to_thread.run_sync(self.store.put, key, value)
            encoded = stored.value.encode()
            if keep_local:
                self.cache.put(key, encoded, stored.version)
            else:
                self.cache.discard(key)
            if self.redis is not None:
                await self.redis.put(key, encoded, stored.version)
                await self.redis.announce(key, stored.version)
        return stored, created

    def invalidate(self, key: str, version: int) -> bool:
        """Drop the local copy of ``key`` if it is older than ``version``; return True if dropped."""
        item = self.cache.peek(key)
        if item is None or item.version >= version:
            return False
        self.cache.discard(key)
        self._metrics.invalidations.labels("write").inc()
        return True

    def _record(self, key: str, tier: Tier) -> None:
        self._metrics.tier[tier].inc()
        if self.hot_keys is not None:
            self.hot_keys.record(key)
