"""What the templates cannot say: the traffic and the data the estimate assumes, with per-stage defaults.

Every field is a command-line flag of ``python -m cost`` (``requests_per_s`` is
``--requests-per-s``); the first three are the ones most estimates turn on. Defaults differ
between the stages only where :data:`STAGE_DEFAULTS` says so (a dev stage sees little traffic).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Final

from cost.prices import DAYS_PER_MONTH, SECONDS_PER_MONTH


def _assume(default: float, text: str) -> Any:
    return field(default=default, metadata={"help": text})


@dataclass(frozen=True, kw_only=True)
class Assumptions:
    """The traffic and data volumes the estimate prices; totals for the whole deployment (all regions)."""

    requests_per_s: float = _assume(50, "API requests per second through the load balancer, averaged over the month")
    avg_response_kb: float = _assume(4, "average response body and headers, KB (data transfer out, LCUs)")
    jobs_per_day: float = _assume(100_000, "jobs submitted per day (SQS requests, database writes, worker logs)")
    request_kb: float = _assume(1, "average request with headers, KB (LCU processed bytes, peer forwards)")
    write_share: float = _assume(0.1, "share of requests that write (PUT /items, POST /jobs)")
    db_read_share: float = _assume(0.05, "share of reads that reach the database (missed by the local LRU and Redis)")
    lru_miss_share: float = _assume(
        0.5, "share of reads the owner's local LRU misses (answered by Redis or the database)"
    )
    requests_per_connection: float = _assume(10, "requests a client sends over one connection (keep-alive)")
    waf_blocked_share: float = _assume(
        0.01, "share of requests WAF blocks (logged when the logging filter keeps blocks)"
    )
    waf_log_kb: float = _assume(1.5, "size of one WAF log record, KB")
    db_storage_gb: float = _assume(50, "Aurora cluster volume, GB (backups assumed within the free allowance)")
    db_read_ios_per_read: float = _assume(1, "Aurora read I/Os per read that reaches the database")
    db_write_ios_per_write: float = _assume(3, "Aurora write I/Os per item write (row, index, log)")
    db_ios_per_job: float = _assume(8, "Aurora I/Os per job (insert, claim, lease renewals, result)")
    db_log_mb_per_day: float = _assume(20, "database logs exported to CloudWatch, MB per cluster per day")
    cache_log_mb_per_day: float = _assume(5, "cache slow and engine logs delivered to CloudWatch, MB per log per day")
    cache_data_gb: float = _assume(1, "data in Redis/Valkey, GB (snapshot storage)")
    instance_log_mb_per_day: float = _assume(
        50, "logs per instance per day, MB: service logs and the agent's embedded-metric events of the scraped series"
    )
    log_kb_per_job: float = _assume(0.5, "worker log lines per job, KB")
    log_compression: float = _assume(0.15, "stored size of CloudWatch Logs relative to the ingested size")
    flow_log_record_bytes: float = _assume(150, "one VPC flow log record (default format), bytes")
    alb_log_bytes_per_request: float = _assume(75, "ALB access log per request in S3 (a ~600-byte line, gzipped)")
    nat_gb_per_instance: float = _assume(
        2, "GB a month each instance sends through NAT (OS updates, AWS APIs without an interface endpoint)"
    )
    token_requests_per_day: float = _assume(
        100, "Cognito client-credentials tokens issued per day (callers cache tokens)"
    )
    kms_requests_per_key: float = _assume(10_000, "KMS requests per customer managed key per month")
    secret_calls_per_secret: float = _assume(10_000, "Secrets Manager API calls per secret per month")
    sqs_calls_per_job_worker: float = _assume(
        0.2, "SQS calls per job by the worker (receive 10, delete in batches; measured by scripts/bench_worker.py)"
    )
    sqs_sends_per_job: float = _assume(1, "SQS calls per job by the API (one SendMessage; the outbox relay batches)")
    dns_queries_per_request: float = _assume(0.01, "DNS queries per request that reach Route 53 (resolvers cache)")
    em_kb_per_sample: float = _assume(4, "RDS enhanced monitoring, KB per instance per sample (CloudWatch Logs)")

    # Derived quantities, per month, for the whole deployment.
    @property
    def requests_per_month(self) -> float:
        """Requests through the load balancer(s) in a month."""
        return self.requests_per_s * SECONDS_PER_MONTH

    @property
    def jobs_per_month(self) -> float:
        """Jobs submitted in a month."""
        return self.jobs_per_day * DAYS_PER_MONTH

    @property
    def response_gb_per_month(self) -> float:
        """Response bytes sent to clients in a month, GB."""
        return self.requests_per_month * self.avg_response_kb / 1e6

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            flag = "--" + f.name.replace("_", "-")
            if value < 0 or (f.name.endswith("_share") and value > 1):
                limit = "between 0 and 1" if f.name.endswith("_share") else "0 or more"
                raise ValueError(f"{flag} must be {limit}, got {value:g}")
            if value == 0 and f.name in ("requests_per_connection", "log_compression"):
                raise ValueError(f"{flag} must be more than 0")


STAGE_DEFAULTS: Final[dict[str, dict[str, float]]] = {
    "dev": {"requests_per_s": 1, "jobs_per_day": 1_000, "db_storage_gb": 5, "cache_data_gb": 0.1},
    "prod": {},
}
"""Where a stage's defaults differ from the field defaults above (which are prod's)."""

HEADLINE: Final = {"requests_per_s": "requests/s", "avg_response_kb": "KB per response", "jobs_per_day": "jobs/day"}
"""The assumptions the output header names, with their units."""


def for_stage(stage: str, **overrides: float) -> Assumptions:
    """The assumptions of ``stage`` (its defaults), with ``overrides`` from the command line."""
    return Assumptions(**{**STAGE_DEFAULTS.get(stage, {}), **overrides})


def describe() -> list[tuple[str, str]]:
    """(field name, help) of every assumption, in declaration order."""
    return [(f.name, str(f.metadata["help"])) for f in dataclasses.fields(Assumptions)]
