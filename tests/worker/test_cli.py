"""The two commands as processes: ``python -m services.worker`` and ``python -m services.worker.dlq``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from services.jobs import JobStatus, JobStore, Producer
from services.worker import dlq
from services.worker.__main__ import main as worker_main
from services.worker.config import WorkerConfig
from services.worker.settings import load_settings
from tests.jobs.conftest import CONTRACT_SAMPLE, Queues, queue_depth
from tests.support import wait_until
from tests.worker.conftest import ROOT, worker_env

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


def _worker(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.worker", *args],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"WORKER_CONCURRENCY": "0"}, "setting WORKER_CONCURRENCY is invalid"),
        ({"WORKER_HEARTBEAT_SECONDS": "soon"}, "setting WORKER_HEARTBEAT_SECONDS is invalid"),
        (
            {"WORKER_HEARTBEAT_SECONDS": "200"},
            "WORKER_HEARTBEAT_SECONDS must be below WORKER_VISIBILITY_TIMEOUT_SECONDS",
        ),
        ({"DATABASE_URL": "oracle://db"}, "setting DATABASE_URL is invalid"),
        ({"LOG_LEVEL": "LOUD"}, "setting LOG_LEVEL is invalid"),
        ({"JOB_HANDLER_MODULES": "no_such_handlers"}, "'no_such_handlers' cannot be imported"),
        ({"JOB_TYPE_MODULES": "no_such_types"}, "job type module 'no_such_types' cannot be imported"),
        ({"REDIS_URL": "localhost:6379"}, "setting REDIS_URL is invalid: must be a redis://"),
        ({"WORKER_LIFECYCLE_HOOK_NAME": "drain"}, "must be set together"),
    ],
)
def test_a_bad_setting_stops_the_worker_with_one_line_naming_it(
    settings: dict[str, str], message: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("QUEUE_URL", "http://127.0.0.1:9/queue")
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    assert worker_main([]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert message in err


def test_the_settings_default_to_the_worker_config_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in os.environ if name.startswith("WORKER_") or name == "JOB_HANDLER_MODULES"]:
        monkeypatch.delenv(name)
    _, config = load_settings(queue_url="http://127.0.0.1:9/queue", worker_id="w")
    assert config == WorkerConfig(worker_id="w")


def test_a_declared_type_without_a_handler_stops_the_worker_naming_it(
    moto_server: str, make_queues: Callable[..., Queues], sqlite_url: str
) -> None:
    env = worker_env(
        QUEUE_URL=make_queues().url,
        DATABASE_URL=sqlite_url,
        AWS_ENDPOINT_URL=moto_server,
        JOB_TYPE_MODULES=CONTRACT_SAMPLE,
    )
    refused = _worker(env, "--check")
    assert refused.returncode == 2
    assert refused.stderr.startswith("worker: declared job types without a handler: test-unbound; "), refused.stderr
    assert refused.stderr.count("\n") == 1
    bound = _worker({**env, "JOB_HANDLER_MODULES": "tests.worker.contract_sample_handler"}, "--check")
    assert bound.returncode == 0, bound.stderr


def test_a_missing_queue_url_stops_the_process_without_a_traceback() -> None:
    result = _worker(worker_env())
    assert result.returncode == 2
    assert result.stderr == "worker: setting QUEUE_URL is required\n"


def test_help_lists_every_setting() -> None:
    result = _worker(worker_env(), "--help")
    assert result.returncode == 0
    for name in ["QUEUE_URL", "DATABASE_URL", "WORKER_CONCURRENCY", "WORKER_HEARTBEAT_SECONDS", "WORKER_ASG_NAME"]:
        assert name in result.stdout


def test_check_reports_the_queue_policy(moto_server: str, make_queues: Callable[..., Queues], sqlite_url: str) -> None:
    queues = make_queues(max_receive_count=4)
    result = _worker(worker_env(QUEUE_URL=queues.url, DATABASE_URL=sqlite_url, AWS_ENDPOINT_URL=moto_server), "--check")
    assert result.returncode == 0, result.stderr
    assert "max receive count 4" in result.stdout
    missing = _worker(
        worker_env(QUEUE_URL=f"{moto_server}/123456789012/gone", DATABASE_URL=sqlite_url, AWS_ENDPOINT_URL=moto_server)
    )
    assert missing.returncode == 1
    assert "is not reachable" in missing.stderr
    assert "Traceback" not in missing.stderr


@pytest.mark.slow
def test_the_worker_process_runs_jobs_logs_json_and_drains_on_sigterm(
    moto_server: str, sqs_client: SQSClient, make_queues: Callable[..., Queues], sqlite_url: str
) -> None:
    queues = make_queues()
    env = worker_env(
        QUEUE_URL=queues.url,
        DATABASE_URL=sqlite_url,
        AWS_ENDPOINT_URL=moto_server,
        WORKER_ID="cli-worker",
        WORKER_RECEIVE_WAIT_SECONDS="1",
        WORKER_REAPER_INTERVAL_SECONDS="0",
    )
    with JobStore.from_url(sqlite_url) as store:
        jobs = [Producer(store, sqs_client, queues.url).submit("echo", {"i": i}) for i in range(3)]
        process = subprocess.Popen(
            [sys.executable, "-m", "services.worker"], env=env, stderr=subprocess.PIPE, text=True, cwd=ROOT
        )
        try:
            wait_until(lambda: all(store.get(j.id).status is JobStatus.SUCCEEDED for j in jobs), timeout=20)  # type: ignore[union-attr]
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=15)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 0
    lines = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    succeeded = [line for line in lines if line["event"] == "job succeeded"]
    assert sorted(line["job_id"] for line in succeeded) == sorted(j.id for j in jobs)
    assert all(line["attempt"] == 1 and line["service"] == "worker" for line in succeeded)
    assert lines[-1]["event"] == "worker stopped"
    assert lines[-1]["succeeded"] == 3


@pytest.mark.usefixtures("isolated_logging")
def test_the_dlq_tool_lists_inspects_and_redrives(
    moto_server: str,
    sqs_client: SQSClient,
    make_queues: Callable[..., Queues],
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    queues = make_queues()
    with JobStore.from_url(sqlite_url) as store:
        job, _ = store.create("fail", {})
        store.claim([job.id], owner="w#1", lease_seconds=10)
        store.fail(job.id, owner="w#1", error="RuntimeError: boom")
    sqs_client.send_message(
        QueueUrl=queues.dlq_url, MessageBody=json.dumps({"v": 1, "job_id": job.id, "type": "fail", "payload": {}})
    )
    sqs_client.send_message(QueueUrl=queues.dlq_url, MessageBody="garbage")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("QUEUE_URL", queues.url)
    monkeypatch.setenv("DATABASE_URL", sqlite_url)

    assert dlq.main(["--json", "count"]) == 0
    assert json.loads(capsys.readouterr().out)["messages"] == 2

    assert dlq.main(["list"]) == 0
    table = capsys.readouterr().out
    assert job.id in table
    assert "failed: RuntimeError: boom" in table
    assert "not valid JSON" in table
    assert "2 message(s)" in table
    assert queue_depth(sqs_client, queues.dlq_url) == (2, 0), "listing must leave the messages visible"

    assert dlq.main(["inspect", job.id]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["job_id"], shown["job"]["status"], shown["job"]["error"]) == (job.id, "failed", "RuntimeError: boom")
    assert dlq.main(["inspect", "nothing-like-this"]) == 1
    capsys.readouterr()

    assert dlq.main(["--json", "redrive", "--max", "1"]) == 0
    assert json.loads(capsys.readouterr().out) == {"method": "copy", "moved": 1, "task_handle": None}
    assert dlq.main(["--json", "redrive"]) == 0
    assert json.loads(capsys.readouterr().out)["moved"] == 1
    assert queue_depth(sqs_client, queues.dlq_url) == (0, 0)
    assert queue_depth(sqs_client, queues.url)[0] == 2


def test_the_dlq_tool_needs_a_queue(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("QUEUE_URL", raising=False)
    assert dlq.main(["count"]) == 2
    assert "QUEUE_URL" in capsys.readouterr().err


def test_the_dlq_tool_names_a_bad_setting_and_its_value(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LOG_JSON", "sometimes")
    assert dlq.main(["count"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dlq: setting LOG_JSON is invalid: "), err
    assert err.endswith("(got 'sometimes')\n"), err


def test_the_dlq_tool_starts_a_move_task_where_sqs_offers_one() -> None:
    import boto3
    from botocore.stub import Stubber

    from services.worker.deadletter import DeadLetterQueue

    client = boto3.client("sqs", region_name="us-east-1")
    base = "https://sqs.us-east-1.amazonaws.com/123456789012"
    with Stubber(client) as stub:
        for name in ("jobs-dlq", "jobs"):
            stub.add_response(
                "get_queue_attributes",
                {"Attributes": {"QueueArn": f"arn:aws:sqs:us-east-1:123456789012:{name}"}},
                {"QueueUrl": f"{base}/{name}", "AttributeNames": ["QueueArn"]},
            )
        stub.add_response(
            "start_message_move_task",
            {"TaskHandle": "task-1"},
            {
                "SourceArn": "arn:aws:sqs:us-east-1:123456789012:jobs-dlq",
                "DestinationArn": "arn:aws:sqs:us-east-1:123456789012:jobs",
            },
        )
        result = DeadLetterQueue(client, dlq_url=f"{base}/jobs-dlq", source_url=f"{base}/jobs").redrive()
        stub.assert_no_pending_responses()
    assert (result.method, result.task_handle, result.moved) == ("move-task", "task-1", None)
