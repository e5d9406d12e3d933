"""The settings the stacks are built from: stage defaults and context overrides, grouped as the stacks use them."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

from services.jobs.spec import PRECOMPUTE, QUEUE
from stacks.context import KEYS
from stacks.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_dev_is_the_default_stage_and_the_cheap_one() -> None:
    settings = load_settings({})
    assert settings.stage == "dev"
    assert settings.protect_data is False
    assert (settings.network.max_azs, settings.network.nat_gateways) == (2, 1)
    assert settings.network.interface_endpoints is False
    assert settings.cache.multi_az is False
    assert settings.web.fleet.instance_type == settings.worker.fleet.instance_type == "t4g.small"
    assert (settings.database.min_capacity, settings.database.max_capacity) == (0.5, 2.0)
    assert settings.database.backup_retention_days == 1
    assert (settings.web.fleet.desired_capacity, settings.worker.fleet.desired_capacity) == (None, None)
    assert settings.observability.log_retention_days == 7


def test_prod_spreads_over_three_zones_and_protects_data() -> None:
    settings = load_settings({"stage": "prod"})
    assert settings.protect_data is True
    assert (settings.network.max_azs, settings.network.nat_gateways) == (3, 3)
    assert settings.network.interface_endpoints is True
    assert settings.cache.multi_az is True
    assert settings.cache.automatic_failover is True
    assert settings.database.backup_retention_days == 7
    assert (settings.database.min_capacity, settings.database.max_capacity) == (1.0, 16.0)
    assert (settings.web.fleet.min_capacity, settings.web.fleet.max_capacity) == (3, 12)
    assert (settings.worker.fleet.min_capacity, settings.worker.fleet.max_capacity) == (2, 10)
    assert settings.web.fleet.instance_type == "m7g.large"
    assert settings.observability.log_retention_days == 90


def test_queue_and_schedule_default_to_the_shared_spec() -> None:
    settings = load_settings({"stage": "prod"})
    assert settings.queue == QUEUE
    assert settings.precompute.schedule == PRECOMPUTE
    assert settings.precompute.scale_up_cron == "45 2 * * *"
    assert settings.precompute.scale_down_cron == "0 4 * * *"


def test_context_overrides_each_kind_of_value() -> None:
    settings = load_settings(
        {
            "stage": "prod",
            "natGateways": "1",
            "interfaceEndpoints": "false",
            "dbMinCapacity": "2.5",
            "auroraEngine": "aurora-mysql",
            "cacheEngine": "valkey",
            "architecture": "x86_64",
            "webInstanceType": "c7i.large",
            "webDesiredCapacity": 4,
            "queueMaxReceiveCount": "8",
            "precomputeCron": "30 1 * * MON-FRI",
            "logRetentionDays": "30",
            "alarmEmail": " ops@example.com ",
        }
    )
    assert settings.network.nat_gateways == 1
    assert settings.network.interface_endpoints is False
    assert settings.database.min_capacity == 2.5
    assert settings.database.engine == "aurora-mysql"
    assert settings.database.port == 3307, "the engine's default port plus one"
    assert settings.cache.engine == "valkey"
    assert settings.web.fleet.instance_type == "c7i.large"
    assert settings.worker.fleet.instance_type == "m7i.large", "the architecture picks the default types"
    assert settings.web.fleet.architecture == settings.worker.fleet.architecture == "x86_64"
    assert settings.web.fleet.desired_capacity == 4
    assert settings.queue == dataclasses.replace(QUEUE, max_receive_count=8)
    assert settings.precompute.schedule.eventbridge_expression() == "cron(30 1 ? * MON-FRI *)"
    assert settings.precompute.scale_up_cron == "15 1 * * 1-5"
    assert settings.observability.log_retention_days == 30
    assert settings.observability.alarm_email == "ops@example.com"


def test_weekday_numbers_reach_both_schedules_as_the_same_days() -> None:
    precompute = load_settings({"precomputeCron": "30 1 * * 1-5"}).precompute
    assert precompute.schedule.eventbridge_expression() == "cron(30 1 ? * 2-6 *)"
    assert (precompute.scale_up_cron, precompute.scale_down_cron) == ("15 1 * * 1-5", "30 2 * * 1-5")


def test_every_key_reaches_the_settings() -> None:
    """Changing any one key from its default changes the settings: no key is read and then dropped."""
    changed = {
        "stage": "prod",
        "architecture": "x86_64",
        "protectData": "true",
        "vpcCidr": "10.1.0.0/16",
        "maxAzs": "3",
        "natGateways": "2",
        "interfaceEndpoints": "true",
        "auroraEngine": "aurora-mysql",
        "dbPort": "3310",
        "dbMinCapacity": "1",
        "dbMaxCapacity": "4",
        "dbReaders": "2",
        "dbBackupRetentionDays": "9",
        "cacheEngine": "valkey",
        "cacheNodeType": "cache.r7g.large",
        "cacheReplicas": "2",
        "cacheMultiAz": "true",
        "cachePort": "6390",
        "cacheSnapshotRetentionDays": "3",
        "queueVisibilityTimeoutSeconds": "300",
        "queueMaxReceiveCount": "3",
        "queueReceiveWaitSeconds": "10",
        "queueRetentionSeconds": "86400",
        "queueDlqRetentionSeconds": "1000000",
        "servicePort": "8081",
        "peerPort": "8080",
        "webInstanceType": "t4g.medium",
        "webMinCapacity": "2",
        "webMaxCapacity": "5",
        "webDesiredCapacity": "2",
        "webRequestsPerTarget": "500",
        "certificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/abc-123",
        "workerInstanceType": "t4g.medium",
        "workerMinCapacity": "2",
        "workerMaxCapacity": "4",
        "workerDesiredCapacity": "2",
        "workerBacklogPerInstance": "50",
        "workerDrainTimeoutSeconds": "120",
        "workerMetricsPort": "9102",
        "precomputeCron": "0 4 * * *",
        "precomputeCapacity": "1",
        "precomputeLeadMinutes": "10",
        "precomputeWindowMinutes": "30",
        "logRetentionDays": "14",
        "alarmEmail": "ops@example.com",
        "alarmOldestMessageSeconds": "900",
        "alarmDbConnections": "100",
        "allowHttp": "true",
        "wafCommonRules": "false",
        "wafKnownBadInputs": "false",
        "wafIpReputation": "false",
        "wafRateRule": "false",
        "wafRateLimit": "300",
        "wafBlockedAlarmRequests": "50",
        "authDomainPrefix": "my-team-api",
        "demoJobTypes": "false",
    }
    assert changed.keys() == KEYS.keys()
    skip_cross_checks = {"stage", "architecture", "peerPort", "servicePort"}  # they only make sense together
    base = load_settings({})
    for key, value in changed.items():
        if key in skip_cross_checks:
            continue
        assert load_settings({key: value}) != base, f"{key}={value} changed nothing"
    assert load_settings({"stage": "prod"}) != base
    assert load_settings({"architecture": "x86_64"}) != base
    ports = load_settings({"servicePort": "8081"})
    assert (ports.web.service_port, ports.web.peer_port) == (8081, 8081)


def test_python_m_stacks_settings_lists_every_key_with_both_defaults_and_a_description() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "stacks.settings"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["key", "dev", "prod", "description"]
    rows = {line.split()[0]: line.split(maxsplit=3)[1:] for line in lines[1:]}
    assert rows.keys() == KEYS.keys()
    assert rows["webDesiredCapacity"][:2] == ["unset", "unset"]
    assert rows["certificateArn"][:2] == ["unset", "unset"]
    assert rows["maxAzs"][:2] == ["2", "3"]
    assert rows["natGateways"][2].startswith("NAT gateways"), "every key has its description"
    assert "prod default: maxAzs" in rows["natGateways"][2], "a computed default says how"
    assert all(len(row) == 3 and row[2] for row in rows.values())
    assert "None" not in result.stdout


def test_python_m_stacks_settings_stops_quietly_when_the_reader_does() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `| head` that has already exited: every write fails with EPIPE
    try:
        result = subprocess.run(
            [sys.executable, "-m", "stacks.settings"],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr) == (0, "")
