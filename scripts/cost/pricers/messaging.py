"""SQS requests from the jobs and the workers' long polls, and EventBridge Scheduler invocations.

Per job: the API's SendMessage and the worker's share of its batched receives and deletes (about
0.2 calls, measured by scripts/bench_worker.py). While the queue is empty each worker instance
long-polls once per ``ReceiveMessageWaitTimeSeconds``: that upper bound is priced too.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Final

from croniter import croniter

from cost import prices
from cost.deployment import Deployment, Pricer, referenced_ids
from cost.fleets import fleets
from cost.model import CostError, Line, Resource, line, qty

_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_RATE_SECONDS: Final = {"minute": 60, "hour": 3600, "day": 86_400}
_CRON = re.compile(r"^cron\((.+)\)$")


def _is_dead_letter_queue(queue: Resource, deployment: Deployment) -> bool:
    return any(
        queue.logical_id in referenced_ids((other.get("RedrivePolicy") or {}).get("deadLetterTargetArn"))
        for other in deployment.of_type("AWS::SQS::Queue")
        if other.stack == queue.stack
    )


def queue(resource: Resource, deployment: Deployment) -> list[Line]:
    """A job queue's requests a month; a dead-letter queue only sees poison jobs."""
    if _is_dead_letter_queue(resource, deployment):
        return [line(resource, "messaging", "dead-letter queue: poison jobs only, negligible", 0.0)]
    a = deployment.assumptions
    jobs = a.jobs_per_month * deployment.share(resource.region)
    per_job = a.sqs_sends_per_job + a.sqs_calls_per_job_worker
    wait = float(resource.get("ReceiveMessageWaitTimeSeconds", 0) or 0)
    polls_per_instance = prices.SECONDS_PER_MONTH / (wait or 1)
    consumers = [f for f in fleets(deployment) if f.group.region == resource.region and not f.serves_traffic]
    idle = polls_per_instance * sum(f.baseline for f in consumers)
    idle_ceiling = polls_per_instance * sum(f.max_size for f in consumers)
    price = prices.SQS_FIFO_REQUESTS_PER_MILLION if resource.get("FifoQueue") else prices.SQS_REQUESTS_PER_MILLION
    requests = jobs * per_job + idle
    return [
        line(
            resource,
            "messaging",
            f"{qty(requests / 1e6)} M requests: {qty(jobs)} jobs x {qty(per_job)} calls"
            f" + long polls every {qty(wait)} s",
            requests / 1e6 * price,
            (jobs * per_job + idle_ceiling) / 1e6 * price,
        )
    ]


def invocations_per_month(expression: str) -> float:
    """How often an EventBridge schedule expression fires in a month: ``rate(...)``, ``cron(...)``, ``at(...)``."""
    rate = _RATE.match(expression)
    if rate:
        seconds = int(rate.group(1)) * _RATE_SECONDS[rate.group(2).rstrip("s")]
        return prices.SECONDS_PER_MONTH / seconds
    if expression.startswith("at("):
        return 0.0
    cron = _CRON.match(expression)
    if not cron:
        raise CostError(f"not a schedule expression: {expression!r}")
    minute, hour, day, month, weekday, *_ = cron.group(1).split()
    # EventBridge numbers weekdays 1-7 from Sunday (cron: 0-6) and writes "any" as ?.
    weekday = re.sub(r"[1-7]", lambda digit: str(int(digit.group()) - 1), weekday)
    fields = " ".join(field.replace("?", "*") for field in (minute, hour, day, month, weekday))
    start = datetime(2026, 1, 5, tzinfo=UTC)
    times, count = croniter(fields, start), 0
    while times.get_next(datetime) < start + timedelta(days=28):
        count += 1
    return count / 28 * prices.DAYS_PER_MONTH


def schedule(resource: Resource, deployment: Deployment) -> list[Line]:
    """EventBridge Scheduler: per invocation."""
    expression = str(resource.get("ScheduleExpression", ""))
    count = invocations_per_month(expression)
    return [
        line(
            resource,
            "messaging",
            f"{qty(count)} invocations a month ({expression})",
            count / 1e6 * prices.SCHEDULER_INVOCATIONS_PER_MILLION,
        )
    ]


PRICERS: Final[dict[str, list[Pricer]]] = {
    "AWS::SQS::Queue": [queue],
    "AWS::Scheduler::Schedule": [schedule],
}
