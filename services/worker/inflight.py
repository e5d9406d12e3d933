"""The messages a worker holds: received, waiting for a job thread, or running.

Each held message's visibility is extended by the heartbeat until it is settled (deleted,
released or handed back); settling removes it from here first, so a heartbeat can never
re-hide a message that was just released.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum

from services.jobs import Job


class State(Enum):
    """Where a held message is: claimed and ``WAITING`` for a job thread, or ``RUNNING``."""

    RECEIVED = "received"
    WAITING = "waiting"
    RUNNING = "running"
    SETTLED = "settled"


@dataclass(eq=False, slots=True, kw_only=True)
class Held:
    """One received message and, once claimed, its job and claim token."""

    receipt: str
    message_id: str
    body: str
    receive_count: int
    extended_at: float
    job_id: str | None = None
    job: Job | None = None
    """The job as this worker's claim left it: ``running``, leased to :attr:`owner`."""
    state: State = State.RECEIVED
    cancelled: threading.Event = field(default_factory=threading.Event)

    @property
    def owner(self) -> str | None:
        """The claim token that holds the job's lease, once claimed."""
        return self.job.lease_owner if self.job is not None else None


class Inflight:
    """A thread-safe set of held messages with waits for room and for emptiness."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._held: set[Held] = set()

    def __len__(self) -> int:
        with self._changed:
            return len(self._held)

    def add(self, items: list[Held]) -> None:
        """Start holding ``items``."""
        with self._changed:
            self._held.update(items)

    def settle(self, held: Held) -> bool:
        """Stop holding ``held``; False if it was already settled (e.g. released by the drain)."""
        with self._changed:
            if held.state is State.SETTLED:
                return False
            held.state = State.SETTLED
            self._held.discard(held)
            self._changed.notify_all()
            return True

    def mark(self, held: Held, state: State, *, expect: State) -> bool:
        """Move ``held`` from ``expect`` to ``state``; False if it was elsewhere."""
        with self._changed:
            if held.state is not expect:
                return False
            held.state = state
            return True

    def take(self, state: State) -> list[Held]:
        """Settle and return every held message in ``state`` (used by the drain)."""
        with self._changed:
            taken = [held for held in self._held if held.state is state]
            for held in taken:
                held.state = State.SETTLED
                self._held.discard(held)
            self._changed.notify_all()
            return taken

    def snapshot(self) -> list[Held]:
        """The messages held right now."""
        with self._changed:
            return list(self._held)

    def wait_for_room(self, limit: int, timeout: float) -> bool:
        """Wait until at most ``limit`` messages are held; False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self._held) <= limit, timeout)

    def wait_empty(self, timeout: float) -> bool:
        """Wait until nothing is held; False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._held, timeout)

    @contextmanager
    def frozen(self) -> Iterator[Callable[[], list[Held]]]:
        """Hold the lock (nothing settles meanwhile) and yield a function listing the held messages."""
        with self._changed:
            yield lambda: list(self._held)
