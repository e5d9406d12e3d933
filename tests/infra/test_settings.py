"""Typed settings: stage defaults, context overrides, and loud errors naming the key."""

from __future__ import annotations

import dataclasses

import pytest

from services.jobs.spec import PRECOMPUTE, QUEUE
from stacks.policies import _RETENTION
from stacks.settings import (
    INSTANCE_TYPES,
    LOG_RETENTION_DAYS,
    SettingsError,
    context_keys,
    estimated_max_connections,
    instance_architecture,
    load_settings,
)


def test_dev_is_the_default_stage_and_the_cheap_one() -> None:
    settings = load_settings({})
    assert settings.stage == "dev"
    assert settings.protect_data is False
    assert (settings.network.max_azs, settings.network.nat_gateways) == (2, 1)
    assert settings.network.interface_endpoints is False
    assert settings.cache.multi_az is False
    assert settings.web.fleet.instance_type == "t4g.small"
    assert (settings.database.min_capacity, settings.database.max_capacity) == (0.5, 2.0)


def test_prod_spreads_over_three_zones_and_protects_data() -> None:
    settings = load_settings({"stage": "prod"})
    assert settings.protect_data is True
    assert (settings.network.max_azs, settings.network.nat_gateways) == (3, 3)
    assert settings.network.interface_endpoints is True
    assert settings.cache.multi_az is True
    assert settings.cache.automatic_failover is True
    assert settings.database.backup_retention_days >= 7
    assert settings.web.fleet.min_capacity == 3


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


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ({"stage": "qa"}, "stage must be one of dev, prod; got 'qa'"),
        ({"auroraEngine": "oracle"}, "auroraEngine must be one of aurora-postgresql, aurora-mysql; got 'oracle'"),
        ({"cacheEngine": "memcached"}, "cacheEngine must be one of redis, valkey; got 'memcached'"),
        ({"webMinCapacity": "two"}, "webMinCapacity must be an integer 1..100; got 'two'"),
        ({"webMaxCapacity": "2.5"}, "webMaxCapacity must be an integer 1..100; got '2.5'"),
        ({"workerMinCapacity": True}, "workerMinCapacity must be an integer 1..100; got True"),
        ({"workerMinCapacity": "0"}, "workerMinCapacity must be an integer 1..100; got 0"),
        ({"webMinCapacity": "5", "webMaxCapacity": "4"}, "webMaxCapacity must be at least webMinCapacity (5); got 4"),
        ({"webDesiredCapacity": "9"}, "webDesiredCapacity must be within webMinCapacity..webMaxCapacity (1..3)"),
        ({"dbMinCapacity": "0.7"}, "dbMinCapacity must be a number 0.5..256 in steps of 0.5; got 0.7"),
        ({"dbMaxCapacity": "lots"}, "dbMaxCapacity must be a number 1..256 in steps of 0.5; got 'lots'"),
        ({"dbMinCapacity": "8", "dbMaxCapacity": "4"}, "dbMaxCapacity must be at least dbMinCapacity (8)"),
        ({"dbPort": "5432"}, "dbPort must be an integer 1150..65535 other than aurora-postgresql's default 5432"),
        ({"stage": "prod", "dbBackupRetentionDays": "3"}, "dbBackupRetentionDays must be an integer 7..35; got 3"),
        ({"cachePort": "6379"}, "cachePort must be an integer 1024..65535 other than the default 6379"),
        ({"cacheMultiAz": "true", "cacheReplicas": "0"}, "cacheMultiAz needs cacheReplicas of at least 1"),
        ({"cacheMultiAz": "maybe"}, "cacheMultiAz must be true or false; got 'maybe'"),
        ({"cacheNodeType": "m7g.large"}, "cacheNodeType must be an ElastiCache node type such as cache.t4g.micro"),
        ({"webInstanceType": "huge"}, "webInstanceType must be an EC2 instance type"),
        ({"architecture": "sparc"}, "architecture must be one of arm64, x86_64; got 'sparc'"),
        ({"workerInstanceType": "c7i.large"}, "workerInstanceType must be an arm64 instance type (architecture=arm64)"),
        ({"architecture": "x86_64", "webInstanceType": "m7g.large"}, "set architecture=arm64 to use it"),
        ({"peerPort": "9090"}, "peerPort must equal servicePort (8080)"),
        ({"vpcCidr": "10.0.0.0/24"}, "vpcCidr must be an IPv4 CIDR block from /16 to /18"),
        ({"maxAzs": "2", "natGateways": "3"}, "natGateways must be an integer 1..2 (at most maxAzs); got 3"),
        ({"queueVisibilityTimeoutSeconds": "30"}, "queueVisibilityTimeoutSeconds must be an integer 61..43200"),
        ({"queueDlqRetentionSeconds": "60"}, "queueDlqRetentionSeconds must be an integer 345600..1209600"),
        ({"precomputeCron": "0 3 * *"}, "precomputeCron must be a five-field UTC cron expression"),
        ({"precomputeCron": "0 3 * * 1"}, "numbers mean different days in cron and EventBridge"),
        ({"precomputeCron": "*/5 3 * * *"}, "needs a fixed minute and hour"),
        ({"precomputeCron": "5 0 * * SUN"}, "crosses midnight"),
        ({"precomputeCapacity": "50"}, "precomputeCapacity must be an integer 1..2"),
        ({"logRetentionDays": "10"}, "logRetentionDays must be one of 1, 3, 5, 7, 14"),
        ({"certificateArn": "my-cert"}, "certificateArn must be an ACM certificate ARN"),
        ({"alarmEmail": "ops"}, "alarmEmail must be an email address; got 'ops'"),
        ({"webMinCapcity": "2"}, "unknown context key 'webMinCapcity'; did you mean 'webMinCapacity'?"),
    ],
)
def test_bad_values_fail_naming_the_key_and_what_it_accepts(context: dict[str, object], expected: str) -> None:
    with pytest.raises(SettingsError) as error:
        load_settings(context)
    assert expected in str(error.value)


def test_unrelated_context_keys_are_left_alone() -> None:
    settings = load_settings({"@aws-cdk/core:newStyleStackSynthesis": True, "aws:cdk:enable-path-metadata": True})
    assert settings.stage == "dev"


def test_every_key_has_a_default_for_both_stages() -> None:
    dev, prod = context_keys("dev"), context_keys("prod")
    assert dev.keys() == prod.keys()
    assert (dev["stage"], prod["stage"]) == ("dev", "prod")
    assert {"stage", "auroraEngine", "webMinCapacity", "queueMaxReceiveCount", "precomputeCron"} <= dev.keys()
    assert dev["queueMaxReceiveCount"] == QUEUE.max_receive_count
    assert dev["precomputeCron"] == PRECOMPUTE.cron


def test_connection_alarm_follows_the_capacity_and_engine() -> None:
    # 2 ACU = 4 GiB; PostgreSQL allows memory / 9,531,392 bytes connections, MySQL / 12,582,880.
    assert estimated_max_connections("aurora-postgresql", 2) == 450
    assert estimated_max_connections("aurora-mysql", 2) == 341
    assert estimated_max_connections("aurora-postgresql", 256) == 5000
    assert load_settings({}).observability.db_connections_alarm == 360


def test_every_offered_log_retention_maps_to_cloudwatch() -> None:
    assert set(_RETENTION) == set(LOG_RETENTION_DAYS)


@pytest.mark.parametrize(
    ("instance_type", "architecture"),
    [
        ("t4g.small", "arm64"),
        ("m7g.large", "arm64"),
        ("c7gn.xlarge", "arm64"),
        ("r8gd.2xlarge", "arm64"),
        ("im4gn.large", "arm64"),
        ("a1.medium", "arm64"),
        ("t3.small", "x86_64"),
        ("m7i.large", "x86_64"),
        ("c7a.large", "x86_64"),
        ("g4dn.xlarge", "x86_64"),
        ("m5zn.large", "x86_64"),
    ],
)
def test_instance_architecture_is_read_from_the_family(instance_type: str, architecture: str) -> None:
    assert instance_architecture(instance_type) == architecture


def test_the_architecture_picks_both_fleets_instance_types() -> None:
    for architecture, (dev_type, prod_type) in INSTANCE_TYPES.items():
        assert instance_architecture(dev_type) == instance_architecture(prod_type) == architecture
        for stage, expected in (("dev", dev_type), ("prod", prod_type)):
            settings = load_settings({"stage": stage, "architecture": architecture})
            for fleet in (settings.web.fleet, settings.worker.fleet):
                assert (fleet.instance_type, fleet.architecture) == (expected, architecture)
