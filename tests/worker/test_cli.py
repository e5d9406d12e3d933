"""``python -m services.worker``: its settings, its one-line errors, and the process itself."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from services.jobs import JobStatus, JobStore, Producer
from services.jobs.spec import QUEUE
from services.worker.__main__ import main as worker_main
from services.worker.settings import WorkerSettings, load_settings, settings_help
from tests.jobs.conftest import CONTRACT_SAMPLE, Queues
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
        (
            {"WORKER_LEASE_SECONDS": "30"},
            "WORKER_HEARTBEAT_SECONDS must be below WORKER_LEASE_SECONDS (got 60.0 and 30.0)",
        ),
        (
            {"WORKER_BACKOFF_BASE_SECONDS": "10", "WORKER_BACKOFF_MAX_SECONDS": "5"},
            "WORKER_BACKOFF_BASE_SECONDS must be at most WORKER_BACKOFF_MAX_SECONDS (got 10.0 and 5.0)",
        ),
        ({"WORKER_BACKOFF_MAX_SECONDS": "50000"}, "setting WORKER_BACKOFF_MAX_SECONDS is invalid"),
        (
            {"WORKER_LIFECYCLE_HOOK_NAME": "drain"},
            "WORKER_LIFECYCLE_HOOK_NAME and WORKER_ASG_NAME must be set together",
        ),
        ({"WORKER_ASG_NAME": "workers"}, "WORKER_LIFECYCLE_HOOK_NAME and WORKER_ASG_NAME must be set together"),
        ({"worker_concurrency": "0"}, "setting WORKER_CONCURRENCY is invalid"),
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


def test_the_queue_defaults_come_from_the_shared_spec_and_pass_the_checks() -> None:
    settings = load_settings(queue_url="http://127.0.0.1:9/queue")
    assert settings.worker_batch_size == QUEUE.batch_size
    assert settings.worker_receive_wait_seconds == QUEUE.receive_wait_seconds
    assert settings.worker_visibility_timeout_seconds == QUEUE.visibility_timeout_seconds
    assert settings.worker_heartbeat_seconds == QUEUE.heartbeat_seconds
    assert settings.worker_lease_seconds == QUEUE.visibility_timeout_seconds
    assert settings.worker_max_receive_count is None  # the queue's redrive policy decides


def test_each_setting_is_read_from_the_variable_of_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, field in WorkerSettings.model_fields.items():
        assert field.validation_alias is None, f"{name} has an alias: the field name must be the variable"
    monkeypatch.setenv("QUEUE_URL", "http://127.0.0.1:9/queue")
    monkeypatch.setenv("WORKER_CONCURRENCY", "7")
    monkeypatch.setenv("JOB_HANDLER_MODULES", " a.b , c ,")
    settings = load_settings()
    assert (settings.queue_url, settings.worker_concurrency) == ("http://127.0.0.1:9/queue", 7)
    assert settings.handler_modules == ("a.b", "c")


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


def test_help_lists_every_setting_with_its_default_and_meaning() -> None:
    result = _worker(worker_env(), "--help")
    assert result.returncode == 0
    lines = {line.split()[0]: line for line in settings_help().splitlines()}
    assert sorted(lines) == sorted(name.upper() for name in WorkerSettings.model_fields)
    for name, field in WorkerSettings.model_fields.items():
        line = lines[name.upper()]
        assert line in result.stdout
        assert field.description
        assert field.description in line
    assert "(required)" in lines["QUEUE_URL"]
    assert "(default 10)" in lines["WORKER_CONCURRENCY"]
    assert "(unset by default)" in lines["WORKER_ASG_NAME"]


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
