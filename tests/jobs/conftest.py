"""Fixtures of the job-pipeline tests: a store on each database, a hand-driven clock, queues."""

from __future__ import annotations

import json
import secrets
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from services.jobs import JobStore, types

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

DATABASES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    pytest.param("mysql", id="mysql", marks=pytest.mark.mysql),
]


CONTRACT_SAMPLE = "tests.jobs.contract_sample"
"""A contract module declaring ``test-unbound``, a type no handler implements."""


@pytest.fixture
def scratch_job_types(monkeypatch: pytest.MonkeyPatch) -> None:
    """Job types the test declares (or loads from :data:`CONTRACT_SAMPLE`) are dropped afterwards."""
    types.load_job_types()
    monkeypatch.setattr(types, "_declared", dict(types._declared))
    monkeypatch.setattr(types, "_loaded", set(types._loaded))
    monkeypatch.delitem(sys.modules, CONTRACT_SAMPLE, raising=False)  # loading it declares again


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 3, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture(params=DATABASES)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database of each backend: a SQLite file, and scratch PostgreSQL and MariaDB databases."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'jobs.db'}"
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file URL (the embedded default's backend)."""
    return f"sqlite:///{tmp_path / 'jobs.db'}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(db_url: str, clock: FakeClock) -> Iterator[JobStore]:
    """A migrated store on each backend, with the fake clock."""
    with JobStore.from_url(db_url, clock=clock) as opened:
        yield opened


@dataclass(frozen=True)
class Queues:
    """A job queue and its dead-letter queue on the moto server."""

    url: str
    dlq_url: str
    max_receive_count: int


@pytest.fixture
def make_queues(sqs_client: SQSClient) -> Callable[..., Queues]:
    """Create a uniquely named queue with a DLQ (state on the moto server is shared)."""

    def make(max_receive_count: int = 3, visibility_timeout: int = 30) -> Queues:
        name = f"jobs-{secrets.token_hex(4)}"
        dlq_url = sqs_client.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
        arn = sqs_client.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        policy = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": str(max_receive_count)})
        url = sqs_client.create_queue(
            QueueName=name, Attributes={"RedrivePolicy": policy, "VisibilityTimeout": str(visibility_timeout)}
        )["QueueUrl"]
        return Queues(url=url, dlq_url=dlq_url, max_receive_count=max_receive_count)

    return make


def queue_depth(sqs_client: SQSClient, url: str) -> tuple[int, int]:
    """(visible, in flight) messages of a queue."""
    attributes = sqs_client.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])
