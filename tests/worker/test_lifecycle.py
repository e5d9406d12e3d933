"""The termination lifecycle: IMDSv2 says Terminated → drain → CompleteLifecycleAction (CONTINUE).

moto has neither instance metadata nor lifecycle actions, so only those two edges are fakes:
a small IMDSv2 server on loopback and a stubbed Auto Scaling client.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.stub import Stubber

from services.jobs import JobStatus, JobStore, Producer
from services.worker.lifecycle import InstanceMetadata
from services.worker.settings import WorkerSettings
from services.worker.worker import Worker
from tests.jobs.conftest import Queues
from tests.support import INSTANCE_ID, FakeImds, serve_imds, wait_until
from tests.worker.conftest import FAST

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient
    from mypy_boto3_sqs import SQSClient


@pytest.fixture
def imds() -> Iterator[FakeImds]:
    yield from serve_imds()


def _worker(
    store: JobStore, sqs_client: SQSClient, queues: Queues, imds: FakeImds, autoscaling: AutoScalingClient
) -> tuple[Worker, InstanceMetadata]:
    settings = WorkerSettings(
        queue_url=queues.url,
        worker_id="asg-worker",
        **{**FAST, "worker_drain_seconds": 60},  # the drain ends when the job does, well before this
        worker_lifecycle_hook_name="drain-workers",
        worker_asg_name="workers",
        worker_lifecycle_poll_seconds=0.1,
    )
    worker = Worker(store=store, sqs=sqs_client, settings=settings)
    metadata = InstanceMetadata(imds.url)
    worker.attach_lifecycle(metadata=metadata, autoscaling=autoscaling)
    return worker, metadata


def test_a_terminating_instance_drains_then_completes_its_lifecycle_action(
    store: JobStore, sqs_client: SQSClient, make_queues: Callable[..., Queues], imds: FakeImds
) -> None:
    queues = make_queues()
    job = Producer(store, sqs_client, queues.url).submit("sleep", {"seconds": 1})
    autoscaling = boto3.client("autoscaling", region_name="us-east-1")
    status_when_completed: list[JobStatus] = []
    autoscaling.meta.events.register(
        "before-parameter-build.auto-scaling.CompleteLifecycleAction",
        lambda **_: status_when_completed.append(store.get(job.id).status),  # type: ignore[union-attr]
    )
    worker, metadata = _worker(store, sqs_client, queues, imds, autoscaling)
    with Stubber(autoscaling) as stub:
        stub.add_response(
            "complete_lifecycle_action",
            {},
            {
                "LifecycleHookName": "drain-workers",
                "AutoScalingGroupName": "workers",
                "LifecycleActionResult": "CONTINUE",
                "InstanceId": INSTANCE_ID,
            },
        )
        thread = threading.Thread(target=worker.run)
        thread.start()
        try:
            wait_until(lambda: store.get(job.id).status is JobStatus.RUNNING)  # type: ignore[union-attr]
            imds.state = "Terminated"
            thread.join(timeout=15)
            assert not thread.is_alive(), "the worker did not stop when its instance began terminating"
        finally:
            worker.stop()
            thread.join()
            metadata.close()
        stub.assert_no_pending_responses()
    assert status_when_completed == [JobStatus.SUCCEEDED], "the action must be completed after the drain"
    assert worker.lifecycle is not None
    assert worker.lifecycle.terminating
    assert imds.unauthenticated == 0


def test_a_plain_stop_does_not_complete_a_lifecycle_action(
    store: JobStore, sqs_client: SQSClient, make_queues: Callable[..., Queues], imds: FakeImds
) -> None:
    queues = make_queues()
    autoscaling = boto3.client("autoscaling", region_name="us-east-1")
    attempted: list[str] = []
    # A call's first event: the Stubber refuses later, with an error Lifecycle.complete swallows.
    autoscaling.meta.events.register(
        "provide-client-params.auto-scaling.*", lambda model, **_: attempted.append(model.name)
    )
    worker, metadata = _worker(store, sqs_client, queues, imds, autoscaling)
    with Stubber(autoscaling):  # no response is queued: nothing reaches AWS
        thread = threading.Thread(target=worker.run)
        thread.start()
        wait_until(worker.receiving.is_set)
        worker.stop()
        thread.join(timeout=15)
        metadata.close()
    assert not thread.is_alive()
    assert attempted == [], "a plain stop must not call Auto Scaling"
    assert worker.lifecycle is not None
    assert not worker.lifecycle.terminating
