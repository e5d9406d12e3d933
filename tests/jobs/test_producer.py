"""The producer and its outbox: nothing accepted is lost, nothing is sent twice by accident."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config

from services.jobs import JobStatus, JobStore, Producer
from services.jobs.spec import MESSAGE_VERSION, parse_message_body
from tests.jobs.conftest import FakeClock, Queues

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


@pytest.fixture
def sqlite_store(sqlite_url: str, clock: FakeClock) -> Iterator[JobStore]:
    with JobStore.from_url(sqlite_url, clock=clock) as store:
        yield store


def _drain(sqs_client: SQSClient, url: str) -> list[dict[str, Any]]:
    bodies = []
    while messages := sqs_client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60).get(
        "Messages", []
    ):
        bodies += [json.loads(m["Body"]) for m in messages]
    return bodies


def test_submit_records_the_job_and_sends_the_spec_message(
    sqlite_store: JobStore, sqs_client: SQSClient, make_queues: Callable[..., Queues]
) -> None:
    queues = make_queues()
    job = Producer(sqlite_store, sqs_client, queues.url).submit("echo", {"greeting": "hi"})
    assert job.status is JobStatus.QUEUED
    assert sqlite_store.get(job.id) == job
    assert _drain(sqs_client, queues.url) == [
        {"v": MESSAGE_VERSION, "job_id": job.id, "type": "echo", "payload": {"greeting": "hi"}}
    ]
    assert sqlite_store.outbox.pending() == []


def test_replaying_an_idempotency_key_returns_the_same_job_and_sends_nothing(
    sqlite_store: JobStore, sqs_client: SQSClient, make_queues: Callable[..., Queues]
) -> None:
    queues = make_queues()
    producer = Producer(sqlite_store, sqs_client, queues.url)
    first = producer.submit("echo", {"n": 1}, idempotency_key="req-7")
    replay = producer.submit("echo", {"n": 1}, idempotency_key="req-7")
    assert replay.id == first.id
    assert [body["job_id"] for body in _drain(sqs_client, queues.url)] == [first.id]


def test_a_job_accepted_while_sqs_is_unreachable_is_sent_later_by_the_relay(
    sqlite_store: JobStore, clock: FakeClock, sqs_client: SQSClient, make_queues: Callable[..., Queues]
) -> None:
    queues = make_queues()
    unreachable = boto3.client(
        "sqs",
        endpoint_url="http://127.0.0.1:9",  # the discard port: nothing listens
        config=Config(connect_timeout=0.5, retries={"max_attempts": 1}),
    )
    job = Producer(sqlite_store, unreachable, queues.url).submit("echo", {"n": 1})
    assert sqlite_store.get(job.id).status is JobStatus.QUEUED  # type: ignore[union-attr]
    assert sqlite_store.outbox.pending() == [job.id]

    relay = Producer(sqlite_store, sqs_client, queues.url, relay_after_seconds=10)
    assert relay.relay_once() == 0, "the relay must give the submitting request time to send"
    clock.advance(10)
    assert relay.relay_once() == 1
    assert relay.relay_once() == 0
    assert sqlite_store.outbox.pending() == []
    assert [body["job_id"] for body in _drain(sqs_client, queues.url)] == [job.id]


def test_relays_running_at_once_send_each_entry_once(
    sqlite_store: JobStore, clock: FakeClock, sqs_client: SQSClient, make_queues: Callable[..., Queues]
) -> None:
    queues = make_queues()
    jobs = [sqlite_store.create("echo", {"i": i}, outbox_after=0)[0] for i in range(25)]
    start = threading.Barrier(3)
    sent: list[int] = []

    def relay() -> None:
        producer = Producer(sqlite_store, sqs_client, queues.url)
        start.wait()
        sent.append(producer.relay_once())

    threads = [threading.Thread(target=relay) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(sent) == 25
    received = [body["job_id"] for body in _drain(sqs_client, queues.url)]
    assert sorted(received) == sorted(job.id for job in jobs)


@pytest.mark.parametrize(
    ("job_type", "payload", "key", "field"),
    [
        ("", {}, None, "'type'"),
        ("x" * 65, {}, None, "'type'"),
        ("echo", [1, 2], None, "'payload'"),
        ("echo", {"bad": float("nan")}, None, "'payload'"),
        ("echo", {"bad": object()}, None, "'payload'"),
        ("echo", {"big": "x" * 300_000}, None, "too large"),
        ("echo", {}, "k" * 201, "idempotency key"),
    ],
)
def test_bad_submissions_are_refused_naming_the_field(
    sqlite_store: JobStore, sqs_client: SQSClient, job_type: str, payload: object, key: str | None, field: str
) -> None:
    producer = Producer(sqlite_store, sqs_client, "http://unused")
    with pytest.raises(ValueError, match=field):
        producer.submit(job_type, payload, idempotency_key=key)  # type: ignore[arg-type]
    assert sum(sqlite_store.count_by_status().values()) == 0


def test_the_relay_message_is_the_producer_message(
    sqlite_store: JobStore, sqs_client: SQSClient, make_queues: Callable[..., Queues]
) -> None:
    queues = make_queues()
    job, _ = sqlite_store.create("sleep", {"seconds": 1}, outbox_after=0)
    Producer(sqlite_store, sqs_client, queues.url).relay_once()
    (body,) = _drain(sqs_client, queues.url)
    parsed = parse_message_body(json.dumps(body))
    assert (parsed.job_id, parsed.type, parsed.payload, parsed.idempotency_key) == (
        job.id,
        "sleep",
        {"seconds": 1},
        None,
    )
