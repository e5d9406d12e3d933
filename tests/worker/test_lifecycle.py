"""The termination lifecycle: IMDSv2 says Terminated → drain → CompleteLifecycleAction (CONTINUE).

moto has neither instance metadata nor lifecycle actions, so only those two edges are fakes:
a small IMDSv2 server on loopback and a stubbed Auto Scaling client.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.stub import Stubber

from services.jobs import JobStatus, JobStore, Producer
from services.worker.config import WorkerConfig
from services.worker.lifecycle import InstanceMetadata
from services.worker.worker import Worker
from tests.jobs.conftest import Queues
from tests.worker.conftest import FAST, wait_until

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient
    from mypy_boto3_sqs import SQSClient

INSTANCE_ID = "i-0123456789abcdef0"
TOKEN = "imds-session-token"


class FakeImds(ThreadingHTTPServer):
    """IMDSv2: a PUT for a session token, then GETs that must carry it."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ImdsHandler)
        self.state = "InService"
        self.unauthenticated = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ImdsHandler(BaseHTTPRequestHandler):
    server: FakeImds

    def do_PUT(self) -> None:
        if self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
            self._reply(200, TOKEN)
        else:
            self._reply(400, "")

    def do_GET(self) -> None:
        if self.headers.get("X-aws-ec2-metadata-token") != TOKEN:
            self.server.unauthenticated += 1
            self._reply(401, "")
            return
        values = {
            "/latest/meta-data/autoscaling/target-lifecycle-state": self.server.state,
            "/latest/meta-data/instance-id": INSTANCE_ID,
        }
        if self.path in values:
            self._reply(200, values[self.path])
        else:
            self._reply(404, "")

    def _reply(self, status: int, body: str) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *_args: Any) -> None:
        pass


def serve_imds() -> Iterator[FakeImds]:
    """A :class:`FakeImds` serving on loopback until the generator is closed (for fixtures)."""
    server = FakeImds()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def imds() -> Iterator[FakeImds]:
    yield from serve_imds()


def _worker(
    store: JobStore, sqs_client: SQSClient, queues: Queues, imds: FakeImds, autoscaling: AutoScalingClient
) -> tuple[Worker, InstanceMetadata]:
    config = WorkerConfig(
        worker_id="asg-worker",
        **FAST,  # type: ignore[arg-type]
        lifecycle_hook_name="drain-workers",
        asg_name="workers",
        lifecycle_poll_seconds=0.1,
    )
    worker = Worker(store=store, sqs=sqs_client, queue_url=queues.url, config=config)
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
