"""The worker's tunables as one typed value; defaults come from the shared queue spec."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field

from services.jobs.spec import QUEUE

MAX_VISIBILITY_SECONDS = 12 * 3600


def default_worker_id() -> str:
    """``<hostname>-<pid>``: unique per process on a fleet of instances."""
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerConfig:
    """How one worker process consumes the queue. Times are in seconds.

    A worker holds at most ``concurrency + batch_size`` messages: the ones running and one
    batch waiting. Every held message has its visibility extended (and its job's lease
    renewed) every ``heartbeat_seconds``, so a job runs as long as it needs while its worker
    lives, and reappears within ``visibility_timeout_seconds`` when the worker dies.
    """

    worker_id: str = field(default_factory=default_worker_id)
    concurrency: int = 10
    batch_size: int = QUEUE.batch_size
    receive_wait_seconds: int = QUEUE.receive_wait_seconds
    """Long-poll wait; 0 (short polling) pauses 0.1 s after each empty receive instead."""
    visibility_timeout_seconds: int = QUEUE.visibility_timeout_seconds
    heartbeat_seconds: float = QUEUE.heartbeat_seconds
    lease_seconds: float = QUEUE.visibility_timeout_seconds
    max_receive_count: int | None = None
    """The attempts a message gets; None reads the queue's redrive policy at start."""
    backoff_base_seconds: float = 2.0
    backoff_max_seconds: float = 300.0
    drain_seconds: float = 60.0
    reaper_interval_seconds: float = 30.0
    """How often the reaper looks for dead workers' jobs and unsent outbox entries; 0 turns it off."""
    reap_grace_seconds: float | None = None
    """How long after its lease expired a job counts as abandoned; None means ``lease_seconds``."""
    relay_retry_seconds: float = 30.0
    ack_flush_seconds: float = 1.0
    """The longest a finished message waits for its batch delete to fill up."""
    handler_modules: tuple[str, ...] = ()
    lifecycle_hook_name: str | None = None
    asg_name: str | None = None
    imds_endpoint: str = "http://169.254.169.254"
    lifecycle_poll_seconds: float = 5.0

    def __post_init__(self) -> None:
        checks = [
            (self.concurrency >= 1, f"concurrency must be at least 1, got {self.concurrency}"),
            (1 <= self.batch_size <= 10, f"batch_size must be 1..10, got {self.batch_size}"),
            (
                0 <= self.receive_wait_seconds <= 20,
                f"receive_wait_seconds must be 0..20, got {self.receive_wait_seconds}",
            ),
            (
                0 < self.heartbeat_seconds < self.visibility_timeout_seconds <= MAX_VISIBILITY_SECONDS,
                "heartbeat_seconds must be below visibility_timeout_seconds, itself at most 43200; "
                f"got {self.heartbeat_seconds} and {self.visibility_timeout_seconds}",
            ),
            (
                self.heartbeat_seconds < self.lease_seconds,
                f"heartbeat_seconds must be below lease_seconds, got {self.heartbeat_seconds} and {self.lease_seconds}",
            ),
            (
                self.max_receive_count is None or 1 <= self.max_receive_count <= 1000,
                f"max_receive_count must be 1..1000, got {self.max_receive_count}",
            ),
            (
                0 < self.backoff_base_seconds <= self.backoff_max_seconds <= MAX_VISIBILITY_SECONDS,
                "backoff_base_seconds must be positive and at most backoff_max_seconds (at most 43200); "
                f"got {self.backoff_base_seconds} and {self.backoff_max_seconds}",
            ),
            (self.drain_seconds >= 0, f"drain_seconds must not be negative, got {self.drain_seconds}"),
            (self.reaper_interval_seconds >= 0, "reaper_interval_seconds must not be negative"),
            (self.ack_flush_seconds > 0, f"ack_flush_seconds must be positive, got {self.ack_flush_seconds}"),
            (
                (self.lifecycle_hook_name is None) == (self.asg_name is None),
                "lifecycle_hook_name and asg_name must be set together (or neither)",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @property
    def reap_grace(self) -> float:
        """Seconds after lease expiry before the reaper takes a job back."""
        return self.lease_seconds if self.reap_grace_seconds is None else self.reap_grace_seconds

    @property
    def lifecycle_enabled(self) -> bool:
        """True when the worker should follow its instance's termination lifecycle hook."""
        return self.lifecycle_hook_name is not None
