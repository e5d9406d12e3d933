"""The node's local cache: an LRU bounded by entry count and by bytes, with a time to live.

Values are kept as the encoded JSON bytes the response is built from, so a hit costs a
dictionary lookup and no serialisation. Used from the event loop only: not thread-safe.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

ENTRY_OVERHEAD: Final = 120
"""Bytes charged per entry besides its key and value: the dict slot, the entry, the node."""


@dataclass(frozen=True, slots=True)
class CachedItem:
    """A value's JSON bytes, the item version they are from, and when the entry expires."""

    value: bytes
    version: int
    expires: float


class LRUCache:
    """Least-recently-used cache of item key → :class:`CachedItem`.

    Holds at most ``max_entries`` entries and ``max_bytes`` bytes (key + value +
    :data:`ENTRY_OVERHEAD` each); an entry larger than ``max_bytes`` is not stored.
    Entries expire ``ttl`` seconds after they were stored.
    """

    def __init__(
        self, *, max_entries: int, max_bytes: int, ttl: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_entries < 1 or max_bytes < 1 or ttl <= 0:
            raise ValueError("max_entries, max_bytes and ttl must be positive")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.ttl = ttl
        self._clock = clock
        self._items: OrderedDict[str, CachedItem] = OrderedDict()
        self.bytes = 0
        """Bytes charged for the current entries."""
        self.evictions = 0
        """Entries dropped to make room (not expiries or invalidations)."""

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._items))

    def get(self, key: str) -> CachedItem | None:
        """The live entry for ``key`` (now the most recently used), or None."""
        item = self._items.get(key)
        if item is None:
            return None
        if item.expires <= self._clock():
            self.discard(key)
            return None
        self._items.move_to_end(key)
        return item

    def peek(self, key: str) -> CachedItem | None:
        """The entry for ``key``, expired or not, without making it recently used."""
        return self._items.get(key)

    def put(self, key: str, value: bytes, version: int) -> bool:
        """Store ``value`` at ``version`` unless a newer version is cached; evict to fit. Return True if stored."""
        current = self._items.get(key)
        if current is not None and current.version > version:
            return False
        size = _charge(key, value)
        self.discard(key)
        if size > self.max_bytes:
            return False
        self._items[key] = CachedItem(value, version, self._clock() + self.ttl)
        self.bytes += size
        while len(self._items) > self.max_entries or self.bytes > self.max_bytes:
            oldest = next(iter(self._items))
            self.discard(oldest)
            self.evictions += 1
        return True

    def discard(self, key: str) -> bool:
        """Drop ``key`` if cached; return True if it was."""
        item = self._items.pop(key, None)
        if item is None:
            return False
        self.bytes -= _charge(key, item.value)
        return True

    def retain(self, keep: Callable[[str], bool]) -> int:
        """Drop every entry whose key fails ``keep``; return how many were dropped."""
        doomed = [key for key in self._items if not keep(key)]
        for key in doomed:
            self.discard(key)
        return len(doomed)

    def clear(self) -> None:
        """Drop every entry."""
        self._items.clear()
        self.bytes = 0


def _charge(key: str, value: bytes) -> int:
    """The bytes an entry is charged: its key, its value and :data:`ENTRY_OVERHEAD`."""
    return len(key.encode()) + len(value) + ENTRY_OVERHEAD
