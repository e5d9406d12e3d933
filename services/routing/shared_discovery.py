"""One discovery poller per instance, shared by every uvicorn process of the node.

Each process of a web node (``API_WORKERS``) keeps its own ring, but they all need the
same membership; without sharing, every process of every instance would call
DescribeAutoScalingGroups/DescribeInstances each interval, and those calls share one
account-wide rate limit. :class:`SharedDiscovery` wraps the real source: the process that
holds an exclusive ``flock`` on ``<run dir>/discovery.lock`` polls it (the leader) and
writes the answer atomically to ``<run dir>/members.json``; the others read that file.
When the leader exits the kernel releases its lock and the next process to ask takes over.
A reader that finds no file yet (all processes start together) waits a moment for the
leader's first answer rather than serve with a ring of itself alone.

The leader polls at the interval with ±20 % jitter (instances started together do not
call in step), and after a throttling error backs off exponentially (to
``max_backoff_seconds``) while the processes keep the membership they have.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Final

from botocore.exceptions import ClientError

from services.routing.discovery import Discovery, DiscoveryError

THROTTLING_CODES: Final = frozenset(
    {"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException", "RequestThrottled"}
)


def is_throttling(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) is an AWS throttling error."""
    while error is not None:
        if isinstance(error, ClientError) and error.response.get("Error", {}).get("Code") in THROTTLING_CODES:
            return True
        error = error.__cause__  # type: ignore[assignment]
    return False


class SharedDiscovery:
    """A :class:`Discovery` whose source is polled by one process per run directory (see the module doc)."""

    def __init__(
        self,
        source: Discovery,
        *,
        run_dir: Path,
        interval: float,
        max_backoff_seconds: float = 300.0,
        first_answer_wait_seconds: float = 3.0,
        clock: Callable[[], float] = time.time,
        jitter: Callable[[], float] = lambda: random.uniform(0.8, 1.2),
    ) -> None:
        self.source = source
        self.run_dir = run_dir
        self.file = run_dir / "members.json"
        self._interval = interval
        self._max_backoff = max_backoff_seconds
        self._first_answer_wait = first_answer_wait_seconds
        self._clock = clock
        self._jitter = jitter
        self._lock_handle: IO[str] | None = None
        self._next_poll = 0.0
        self._backoff = 0.0
        self.polls = 0
        """Calls this process made to the source."""

    @property
    def leader(self) -> bool:
        """Whether this process polls the source (it holds the lock)."""
        return self._lock_handle is not None

    def members(self) -> list[str]:
        """The membership: polled if this process leads and a poll is due, else the shared file's."""
        if self._try_lead() and self._clock() >= self._next_poll:
            return self._poll()
        return self._read()

    def describe(self) -> str:
        """The source, and that it is shared."""
        return f"{self.source.describe()} (shared through {self.file})"

    def close(self) -> None:
        """Give up the lead (another process takes it at its next refresh)."""
        if self._lock_handle is not None:
            self._lock_handle.close()
            self._lock_handle = None

    def _try_lead(self) -> bool:
        if self._lock_handle is None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            handle = (self.run_dir / "discovery.lock").open("a")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                return False
            self._lock_handle = handle
        return True

    def _poll(self) -> list[str]:
        self.polls += 1
        try:
            found = self.source.members()
        except DiscoveryError as error:
            if is_throttling(error):
                self._backoff = min(max(self._backoff * 2, self._interval * 2), self._max_backoff)
                self._next_poll = self._clock() + self._backoff * self._jitter()
            else:
                self._next_poll = self._clock() + self._interval * self._jitter()
            raise
        self._backoff = 0.0
        self._next_poll = self._clock() + self._interval * self._jitter()
        temporary = self.file.with_name(f".members.{os.getpid()}.tmp")
        temporary.write_text(json.dumps({"members": found, "polled_at": self._clock()}))
        temporary.replace(self.file)  # readers see the old file or the new one, never half
        return found

    def _read(self) -> list[str]:
        if not self.leader:
            self._wait_for_first_answer()
        try:
            state = json.loads(self.file.read_text())
            members, polled_at = list(state["members"]), float(state["polled_at"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise DiscoveryError(f"the shared membership {self.file} cannot be read yet: {error}") from None
        age = self._clock() - polled_at
        if age > max(10 * self._interval, self._max_backoff * 1.5):
            raise DiscoveryError(f"the shared membership {self.file} is {age:.0f} s old: its poller has stopped")
        return [str(member) for member in members]

    def _wait_for_first_answer(self) -> None:
        # At start every process refreshes at once, before serving: a reader that answered with
        # "no file yet" would keep only itself in its ring and route every key to itself.
        deadline = time.monotonic() + self._first_answer_wait
        while not self.file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()
