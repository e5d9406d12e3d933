"""``python -m services.worker.dlq``: count, list, inspect and redrive, from the environment or
from the running local system."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.stub import Stubber

from services.jobs import JobStore
from services.local.cluster import free_port
from services.settings import local_system_env, publish_local_system
from services.worker import dlq
from services.worker.deadletter import DeadLetterError, DeadLetterQueue
from tests.jobs.conftest import Queues, queue_depth
from tests.worker.conftest import ROOT

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

NO_QUEUE = "dlq: no queue: set QUEUE_URL (or pass --queue-url), or start the local system"


def _failed_job_in_the_dlq(sqs_client: SQSClient, queues: Queues, database_url: str) -> str:
    """A failed job whose message is in the DLQ, next to a message that is not a job's; the job's id."""
    with JobStore.from_url(database_url) as store:
        job, _ = store.create("fail", {})
        store.claim([job.id], owner="w#1", lease_seconds=10)
        store.fail(job.id, owner="w#1", error="RuntimeError: boom")
    sqs_client.send_message(
        QueueUrl=queues.dlq_url, MessageBody=json.dumps({"v": 1, "job_id": job.id, "type": "fail", "payload": {}})
    )
    sqs_client.send_message(QueueUrl=queues.dlq_url, MessageBody="garbage")
    return job.id


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
    job_id = _failed_job_in_the_dlq(sqs_client, queues, sqlite_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("QUEUE_URL", queues.url)
    monkeypatch.setenv("DATABASE_URL", sqlite_url)

    # the common options go before the command or after it
    for argv in (["--json", "count"], ["count", "--json"]):
        assert dlq.main(argv) == 0
        assert json.loads(capsys.readouterr().out) == {"dlq_url": queues.dlq_url, "messages": 2}
    assert dlq.main(["count"]) == 0
    assert capsys.readouterr().out == f"dlq_url={queues.dlq_url} messages=2\n"

    assert dlq.main(["list"]) == 0
    table = capsys.readouterr().out
    assert job_id in table
    assert "failed: RuntimeError: boom" in table
    assert "not valid JSON" in table
    assert "2 message(s)" in table
    assert queue_depth(sqs_client, queues.dlq_url) == (2, 0), "listing must leave the messages visible"
    assert dlq.main(["list", "--json"]) == 0
    assert sorted(row["job_id"] or "-" for row in json.loads(capsys.readouterr().out)) == sorted([job_id, "-"])

    assert dlq.main(["inspect", job_id]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["job_id"], shown["job"]["status"], shown["job"]["error"]) == (job_id, "failed", "RuntimeError: boom")
    assert dlq.main(["inspect", "nothing-like-this"]) == 1
    capsys.readouterr()

    assert dlq.main(["--json", "redrive", "--max", "1"]) == 0
    assert json.loads(capsys.readouterr().out) == {"method": "copy", "moved": 1, "task_handle": None}
    assert dlq.main(["redrive", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["moved"] == 1
    assert queue_depth(sqs_client, queues.dlq_url) == (0, 0)
    assert queue_depth(sqs_client, queues.url)[0] == 2


@pytest.mark.usefixtures("isolated_logging")
def test_beside_a_running_local_system_the_dlq_tool_needs_no_variables(
    moto_server: str,
    sqs_client: SQSClient,
    make_queues: Callable[..., Queues],
    sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    queues = make_queues()
    job_id = _failed_job_in_the_dlq(sqs_client, queues, sqlite_url)
    publish_local_system(
        tmp_path,
        {
            "QUEUE_URL": queues.url,
            "DATABASE_URL": sqlite_url,
            "AWS_ENDPOINT_URL": moto_server,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": "us-east-1",
        },
    )
    # Nothing in the environment points at it: the local system's endpoint, credentials and
    # region go with its queue (moto keeps queues per region).
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")

    assert dlq.main(["count", "--json", "--data-dir", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out) == {"dlq_url": queues.dlq_url, "messages": 2}
    assert dlq.main(["--data-dir", str(tmp_path), "inspect", job_id]) == 0
    assert json.loads(capsys.readouterr().out)["job"]["error"] == "RuntimeError: boom"  # the local database

    # a variable that is set still wins: here, another database that lacks the job
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'other.db'}")
    assert dlq.main(["--data-dir", str(tmp_path), "inspect", job_id]) == 0
    assert json.loads(capsys.readouterr().out)["job"] is None


def test_without_a_queue_or_a_running_local_system_the_dlq_tool_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert dlq.main(["count", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == f"{NO_QUEUE} (python -m services.local up); none runs from {tmp_path}\n"

    # a file left behind by a local system that is gone does not count
    publisher = "from pathlib import Path; from services.settings import publish_local_system as p; "
    publisher += f"p(Path({str(tmp_path)!r}), {{'QUEUE_URL': 'http://127.0.0.1:9/1/jobs'}})"
    subprocess.run([sys.executable, "-c", publisher], check=True, cwd=ROOT)
    assert (tmp_path / "system.json").exists()
    assert local_system_env(tmp_path) is None
    assert dlq.main(["--data-dir", str(tmp_path), "count"]) == 2
    assert capsys.readouterr().err.startswith(NO_QUEUE)


def test_the_dlq_tool_names_a_bad_setting_and_its_value(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LOG_JSON", "sometimes")
    assert dlq.main(["count"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dlq: setting LOG_JSON is invalid: "), err
    assert err.endswith("(got 'sometimes')\n"), err
    monkeypatch.delenv("LOG_JSON")
    monkeypatch.setenv("LOG_LEVEL", "LOUD")
    assert dlq.main(["count"]) == 2
    assert capsys.readouterr().err.startswith(
        "dlq: setting LOG_LEVEL is invalid: must be DEBUG, INFO, WARNING or ERROR"
    )


def test_the_dlq_settings_are_read_from_the_variables_of_their_names() -> None:
    for name, field in dlq.DlqSettings.model_fields.items():
        assert field.validation_alias is None, f"{name} has an alias: the field name must be the variable"
        assert field.description


def _answer_queue_arns(stub: Stubber, base: str) -> None:
    """Stub the two GetQueueAttributes calls that resolve the DLQ's and the queue's ARNs."""
    for name in ("jobs-dlq", "jobs"):
        stub.add_response(
            "get_queue_attributes",
            {"Attributes": {"QueueArn": f"arn:aws:sqs:us-east-1:123456789012:{name}"}},
            {"QueueUrl": f"{base}/{name}", "AttributeNames": ["QueueArn"]},
        )


def test_the_dlq_tool_starts_a_move_task_where_sqs_offers_one() -> None:
    client = boto3.client("sqs", region_name="us-east-1")
    base = "https://sqs.us-east-1.amazonaws.com/123456789012"
    with Stubber(client) as stub:
        _answer_queue_arns(stub, base)
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


@pytest.mark.slow
def test_the_dlq_tool_finds_the_local_system_that_up_started(tmp_path: Path) -> None:
    """``services.local up`` publishes its queue while it runs, and withdraws it when it stops."""
    bare = {name: os.environ[name] for name in ("PATH", "HOME") if name in os.environ}
    bare["PYTHONPATH"] = str(ROOT)

    def run_dlq() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "services.worker.dlq", "count", "--json", "--data-dir", str(tmp_path)],
            env=bare,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=ROOT,
        )

    up = [sys.executable, "-m", "services.local", "up", "--nodes", "1", "--workers", "0"]
    up += ["--data-dir", str(tmp_path), "--port", str(free_port())]
    with subprocess.Popen(up, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT) as system:
        try:
            assert system.stdout is not None
            lines = []
            for line in system.stdout:
                lines.append(line)
                if line.startswith(("ready on", "error")):
                    break
            assert lines[-1].startswith("ready on"), "".join(lines)
            counted = run_dlq()
            assert counted.returncode == 0, counted.stderr
            report = json.loads(counted.stdout)
            assert report["messages"] == 0
            assert report["dlq_url"].endswith("/jobs-dlq")
        finally:
            system.send_signal(signal.SIGTERM)
            system.wait(timeout=60)
    assert system.returncode == 0
    assert not (tmp_path / "system.json").exists()
    gone = run_dlq()
    assert gone.returncode == 2
    assert gone.stderr.startswith(NO_QUEUE)


def test_a_role_denied_the_move_task_copies_instead() -> None:
    """AccessDenied on StartMessageMoveTask (a role without the permission): receive → send → delete."""
    client = boto3.client("sqs", region_name="us-east-1")
    base = "https://sqs.us-east-1.amazonaws.com/123456789012"
    dlq_url, source_url = f"{base}/jobs-dlq", f"{base}/jobs"
    body = json.dumps({"job_id": "j-1", "type": "echo"})
    with Stubber(client) as stub:
        _answer_queue_arns(stub, base)
        stub.add_client_error("start_message_move_task", service_error_code="AccessDenied", http_status_code=403)
        stub.add_response(
            "receive_message",
            {"Messages": [{"MessageId": "m-1", "ReceiptHandle": "rh-1", "Body": body}]},
        )
        stub.add_response(
            "send_message_batch",
            {"Successful": [{"Id": "0", "MessageId": "m-2", "MD5OfMessageBody": "x"}], "Failed": []},
            {"QueueUrl": source_url, "Entries": [{"Id": "0", "MessageBody": body}]},
        )
        stub.add_response(
            "delete_message_batch",
            {"Successful": [{"Id": "0"}], "Failed": []},
            {"QueueUrl": dlq_url, "Entries": [{"Id": "0", "ReceiptHandle": "rh-1"}]},
        )
        stub.add_response("receive_message", {"Messages": []})
        result = DeadLetterQueue(client, dlq_url=dlq_url, source_url=source_url).redrive()
        stub.assert_no_pending_responses()
    assert (result.method, result.moved) == ("copy", 1)
    with Stubber(client) as stub:
        stub.add_response(
            "get_queue_attributes",
            {"Attributes": {"QueueArn": "arn:aws:sqs:us-east-1:123456789012:jobs-dlq"}},
        )
        stub.add_client_error("list_message_move_tasks", service_error_code="AccessDenied", http_status_code=403)
        task = DeadLetterQueue(client, dlq_url=dlq_url, source_url=source_url).wait_for_move_task()
    assert task == {"Status": "UNKNOWN", "Reason": "sqs:ListMessageMoveTasks denied"}
    with Stubber(client) as stub:  # with the explicit method, a denial is an error naming the call
        for name in ("jobs-dlq", "jobs"):
            stub.add_response("get_queue_attributes", {"Attributes": {"QueueArn": f"arn:aws:sqs:us-east-1:1:{name}"}})
        stub.add_client_error("start_message_move_task", service_error_code="AccessDenied", http_status_code=403)
        with pytest.raises(DeadLetterError, match="StartMessageMoveTask failed"):
            DeadLetterQueue(client, dlq_url=dlq_url, source_url=source_url).redrive(method="move-task")
