"""A read load the console can start: N requests/s of ``GET /items/{key}`` with Zipf-skewed keys.

Keys are ``item-1`` .. ``item-<keys>``; key ``item-k`` is read with weight ``1/k**s``. A read
that answers 404 writes the item (as a read-through client would), so the load warms the
caches and the hit rate climbs. Requests go through the balancer, like any client's, with the
bearer token of ``token_source`` when it gives one.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, Final

import httpx

MAX_RATE: Final = 500
MAX_IN_FLIGHT: Final = 64
TokenSource = Callable[[], "str | None"]


@dataclass(frozen=True, slots=True)
class LoadSpec:
    """How much load: requests per second, Zipf exponent, distinct keys."""

    rate: int
    zipf_s: float = 1.1
    keys: int = 1000

    def problem(self) -> str | None:
        """Why this load cannot run, or None."""
        if not 1 <= self.rate <= MAX_RATE:
            return f"rate must be 1..{MAX_RATE} requests/s (got {self.rate})"
        if not 0 <= self.zipf_s <= 3:
            return f"zipf_s must be 0..3 (got {self.zipf_s}); 0 reads every key equally often"
        if not 1 <= self.keys <= 100_000:
            return f"keys must be 1..100000 (got {self.keys})"
        return None


def auth_headers(token_source: TokenSource) -> dict[str, str]:
    """The ``Authorization`` header for a token from ``token_source``, or none."""
    token = token_source()
    return {"authorization": f"Bearer {token}"} if token else {}


class ReadLoad:
    """Runs at most one load at a time against ``base_url``."""

    def __init__(self, base_url: str, token_source: TokenSource) -> None:
        self._base_url = base_url
        self._token_source = token_source
        self._task: asyncio.Task[None] | None = None
        self.spec: LoadSpec | None = None
        self.statuses: Counter[int] = Counter()
        self.errors = 0

    @property
    def running(self) -> bool:
        """Whether a load is running."""
        return self._task is not None and not self._task.done()

    def state(self) -> dict[str, Any]:
        """What the console shows of the load."""
        spec = self.spec if self.running else None
        return {
            "running": spec is not None,
            "rate": spec.rate if spec else None,
            "zipf_s": spec.zipf_s if spec else None,
            "keys": spec.keys if spec else None,
            "sent": sum(self.statuses.values()) + self.errors,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "errors": self.errors,
        }

    async def start(self, spec: LoadSpec) -> None:
        """Start ``spec``, replacing a running load."""
        await self.stop()
        self.spec = spec
        self._task = asyncio.create_task(self._run(spec), name="console-read-load")

    async def stop(self) -> None:
        """Stop the load, if one runs."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self, spec: LoadSpec) -> None:
        keys = [f"item-{k}" for k in range(1, spec.keys + 1)]
        weights = list(accumulate(1 / k**spec.zipf_s for k in range(1, spec.keys + 1)))
        rng = random.Random()
        slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        pending: set[asyncio.Task[None]] = set()
        limits = httpx.Limits(max_connections=MAX_IN_FLIGHT)
        async with httpx.AsyncClient(base_url=self._base_url, timeout=10, limits=limits) as client:
            try:
                started, sent = time.monotonic(), 0
                while True:
                    due = int((time.monotonic() - started) * spec.rate) + 1
                    for _ in range(due - sent):
                        if slots.locked():  # the system is slower than the rate: drop, do not queue up
                            break
                        await slots.acquire()
                        key = rng.choices(keys, cum_weights=weights)[0]
                        task = asyncio.create_task(self._read(client, key, slots))
                        pending.add(task)
                        task.add_done_callback(pending.discard)
                    sent = due
                    await asyncio.sleep(min(0.05, 1 / spec.rate))
            finally:
                for task in pending:
                    task.cancel()

    async def _read(self, client: httpx.AsyncClient, key: str, slots: asyncio.Semaphore) -> None:
        try:
            headers = auth_headers(self._token_source)
            response = await client.get(f"/items/{key}", headers=headers)
            self.statuses[response.status_code] += 1
            if response.status_code == 404:
                await client.put(f"/items/{key}", json={"value": {"key": key, "by": "console load"}}, headers=headers)
        except httpx.HTTPError:
            self.errors += 1
        finally:
            slots.release()
