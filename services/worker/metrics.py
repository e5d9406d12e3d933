"""The worker's counters and handler latency, as prometheus-client metrics.

Each :class:`WorkerMetrics` registers on its own registry (the CLI passes the process-wide
one so ``WORKER_METRICS_PORT`` can serve it), and reads back as plain numbers for tests
and benchmarks: ``metrics.jobs_retried == 4``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

_LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900)


def _total(counter: str, doc: str) -> property:
    """A read-only count: the sum of ``counter`` over its labels."""

    def read(metrics: WorkerMetrics) -> int:
        collected = getattr(metrics, counter).collect()
        return int(sum(s.value for m in collected for s in m.samples if s.name.endswith("_total")))

    return property(read, doc=doc)


class WorkerMetrics:
    """Counters of what one worker did, labelled by job type where a job is known."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        reg = self.registry
        self.received = Counter("worker_messages_received", "Messages received from the queue", registry=reg)
        self.succeeded = Counter("worker_jobs_succeeded", "Jobs completed successfully", ["type"], registry=reg)
        self.failed = Counter("worker_jobs_failed", "Jobs failed for good", ["type"], registry=reg)
        self.retried = Counter("worker_jobs_retried", "Failed attempts that will be retried", ["type"], registry=reg)
        self.duplicates = Counter(
            "worker_duplicates_skipped", "Deliveries of jobs already done or held by another worker", registry=reg
        )
        self.dead_lettered = Counter(
            "worker_dead_lettered", "Messages handed to the redrive policy on their last receive", registry=reg
        )
        self.poison = Counter("worker_poison_messages", "Messages that are not a job of this system", registry=reg)
        self.released = Counter("worker_messages_released", "Messages released at shutdown", registry=reg)
        self.lost_leases = Counter("worker_leases_lost", "Results discarded: another claim took the job", registry=reg)
        self.handler_seconds = Histogram(
            "worker_handler_seconds", "Handler run time", ["type"], buckets=_LATENCY_BUCKETS, registry=reg
        )

    messages_received = _total("received", "Messages received.")
    jobs_succeeded = _total("succeeded", "Jobs this worker completed.")
    jobs_failed = _total("failed", "Jobs this worker marked failed.")
    jobs_retried = _total("retried", "Attempts that failed and were scheduled again.")
    duplicates_skipped = _total("duplicates", "Deliveries skipped: the job was done or running elsewhere.")
    messages_dead_lettered = _total("dead_lettered", "Messages released on their last receive, for the DLQ.")
    poison_messages = _total("poison", "Messages that are not a job of this system.")
    messages_released = _total("released", "Messages released at shutdown for another worker to take at once.")
    leases_lost = _total("lost_leases", "Results discarded because another claim had taken the job.")

    def snapshot(self) -> dict[str, int]:
        """Every count by name, for logs and benchmark output."""
        return {
            "received": self.messages_received,
            "succeeded": self.jobs_succeeded,
            "failed": self.jobs_failed,
            "retried": self.jobs_retried,
            "duplicates_skipped": self.duplicates_skipped,
            "dead_lettered": self.messages_dead_lettered,
            "poison": self.poison_messages,
            "released": self.messages_released,
            "leases_lost": self.leases_lost,
        }
