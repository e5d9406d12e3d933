"""The CDK context keys: per-stage and computed defaults, unknown keys, and one-line errors naming the key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from stacks.context import KEYS, ContextError, defaults, read_context
from stacks.context_reference import reference
from stacks.context_types import LOG_RETENTION_DAYS, STAGES, instance_architecture
from stacks.defaults import DERIVED_DEFAULTS, STAGE_DEFAULTS, Derived, estimated_max_connections
from stacks.policies import _RETENTION
from tests.infra.conftest import CDK_JSON_CONTEXT

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ({"stage": "qa"}, "stage must be one of dev, prod; got 'qa'"),
        ({"auroraEngine": "oracle"}, "auroraEngine must be one of aurora-postgresql, aurora-mysql; got 'oracle'"),
        ({"cacheEngine": "memcached"}, "cacheEngine must be one of redis, valkey; got 'memcached'"),
        ({"webMinCapacity": "two"}, "webMinCapacity must be an integer 1..100; got 'two'"),
        ({"webMaxCapacity": "2.5"}, "webMaxCapacity must be an integer 1..100; got '2.5'"),
        ({"workerMinCapacity": True}, "workerMinCapacity must be an integer 1..100; got True"),
        ({"workerMinCapacity": "0"}, "workerMinCapacity must be an integer 1..100; got '0'"),
        ({"webMinCapacity": "5", "webMaxCapacity": "4"}, "webMaxCapacity must be at least webMinCapacity (5); got 4"),
        ({"webDesiredCapacity": "9"}, "webDesiredCapacity must be within webMinCapacity..webMaxCapacity (1..3); got 9"),
        ({"webDesiredCapacity": "0"}, "webDesiredCapacity must be an integer 1..100, or unset; got '0'"),
        ({"dbMinCapacity": "0.7"}, "dbMinCapacity must be a number 0.5..256 in steps of 0.5; got '0.7'"),
        ({"dbMaxCapacity": "lots"}, "dbMaxCapacity must be a number 1..256 in steps of 0.5; got 'lots'"),
        ({"dbMaxCapacity": False}, "dbMaxCapacity must be a number 1..256 in steps of 0.5; got False"),
        ({"dbMinCapacity": "8", "dbMaxCapacity": "4"}, "dbMaxCapacity must be at least dbMinCapacity (8); got 4"),
        ({"dbPort": "5432"}, "dbPort must be other than aurora-postgresql's default 5432; got 5432"),
        ({"auroraEngine": "aurora-mysql", "dbPort": "3306"}, "dbPort must be other than aurora-mysql's default 3306"),
        ({"dbPort": "80"}, "dbPort must be an integer 1150..65535; got '80'"),
        ({"stage": "prod", "dbBackupRetentionDays": "3"}, "dbBackupRetentionDays must be at least 7 in prod; got 3"),
        ({"dbBackupRetentionDays": "36"}, "dbBackupRetentionDays must be an integer 1..35; got '36'"),
        ({"cachePort": "6379"}, "cachePort must be an integer 1024..65535 other than the default 6379; got '6379'"),
        ({"cacheMultiAz": "true", "cacheReplicas": "0"}, "cacheMultiAz needs cacheReplicas of at least 1"),
        ({"cacheMultiAz": "maybe"}, "cacheMultiAz must be true or false; got 'maybe'"),
        ({"cacheNodeType": "m7g.large"}, "cacheNodeType must be an ElastiCache node type such as cache.t4g.micro"),
        ({"webInstanceType": "huge"}, "webInstanceType must be an EC2 instance type such as t4g.small"),
        ({"architecture": "sparc"}, "architecture must be one of arm64, x86_64; got 'sparc'"),
        ({"workerInstanceType": "c7i.large"}, "workerInstanceType must be an arm64 instance type (architecture=arm64)"),
        ({"architecture": "x86_64", "webInstanceType": "m7g.large"}, "set architecture=arm64 to use it"),
        ({"peerPort": "9090"}, "peerPort must equal servicePort (8080)"),
        ({"vpcCidr": "10.0.0.0/24"}, "vpcCidr must be an IPv4 CIDR block from /16 to /18; got '10.0.0.0/24' (three"),
        ({"vpcCidr": "10.0.0.1/16"}, "vpcCidr must be an IPv4 CIDR block from /16 to /18; got '10.0.0.1/16' (10.0"),
        ({"maxAzs": "2", "natGateways": "3"}, "natGateways must be at most maxAzs (2); got 3"),
        ({"stage": "prod", "maxAzs": "7"}, "maxAzs must be an integer 2..6; got '7'"),
        ({"queueVisibilityTimeoutSeconds": "30"}, "queueVisibilityTimeoutSeconds must be an integer 61..43200"),
        (
            {"queueDlqRetentionSeconds": "60"},
            "queueDlqRetentionSeconds must be at least queueRetentionSeconds (345600); got 60",
        ),
        ({"precomputeCron": "0 3 * *"}, "precomputeCron must be a five-field UTC cron expression"),
        ({"precomputeCron": "0 3 * * 7"}, "numbers 0-6 (Sunday = 0) such as 1-5"),
        ({"precomputeCron": "0 3 1 * MON"}, "a day of the month and a weekday cannot both be set"),
        ({"precomputeCron": "*/5 3 * * *"}, "needs a fixed minute and hour"),
        ({"precomputeCron": "5 0 * * SUN"}, "crosses midnight"),
        ({"precomputeCapacity": "150"}, "precomputeCapacity must be an integer 1..100; got '150'"),
        ({"precomputeCapacity": "5"}, "precomputeCapacity must be within workerMinCapacity..workerMaxCapacity (1..2)"),
        ({"logRetentionDays": "10"}, "logRetentionDays must be one of 1, 3, 5, 7, 14"),
        ({"certificateArn": "my-cert"}, "certificateArn must be an ACM certificate ARN"),
        ({"alarmEmail": "ops"}, "alarmEmail must be an email address, or unset; got 'ops'"),
    ],
)
def test_a_bad_value_fails_in_one_line_naming_the_key_and_what_it_accepts(
    context: dict[str, object], expected: str
) -> None:
    with pytest.raises(ContextError) as error:
        read_context(context)
    message = str(error.value)
    assert expected in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("webMinCapcity", "unknown context key 'webMinCapcity'; did you mean 'webMinCapacity'?"),
        ("webMinCapacty", "unknown context key 'webMinCapacty'; did you mean 'webMinCapacity'?"),
        ("webmincapacity", "unknown context key 'webmincapacity'; did you mean 'webMinCapacity'?"),
        ("Stage", "unknown context key 'Stage'; did you mean 'stage'?"),
        ("dbMaxCap", "unknown context key 'dbMaxCap'; it is not a key of this app (make settings lists them)"),
        ("region", "unknown context key 'region'; it is not a key of this app (make settings lists them)"),
    ],
)
def test_every_key_the_app_does_not_own_is_refused(key: str, expected: str) -> None:
    with pytest.raises(ContextError) as error:
        read_context({key: "4"})
    assert str(error.value) == expected


def test_all_unknown_keys_are_named_at_once() -> None:
    with pytest.raises(ContextError) as error:
        read_context({"dbMaxCap": "4", "stage": "prod", "webMinCapcity": "2"})
    assert str(error.value) == (
        "unknown context key 'dbMaxCap'; it is not a key of this app (make settings lists them); "
        "unknown context key 'webMinCapcity'; did you mean 'webMinCapacity'?"
    )


def test_keys_of_the_cdk_itself_are_left_to_it() -> None:
    # What `cdk synth` passes (seen in CDK_CONTEXT_JSON with the pinned CLI): cdk.json's feature flags,
    # the CLI's own keys, cached lookups from cdk.context.json and acknowledged notices.
    cdk_keys = {
        **CDK_JSON_CONTEXT,
        "aws:cdk:enable-path-metadata": True,
        "aws:cdk:enable-asset-metadata": True,
        "aws:cdk:version-reporting": True,
        "aws:cdk:bundling-stacks": ["**"],
        "availability-zones:account=123456789012:region=eu-west-1": ["eu-west-1a", "eu-west-1b"],
        "acknowledged-issue-numbers": [32775],
        "cli-telemetry": False,
    }
    assert read_context({**cdk_keys, "stage": "prod"}) == defaults("prod")


def test_an_empty_value_means_unset() -> None:
    assert read_context({"alarmEmail": "", "maxAzs": "", "stage": "prod", "certificateArn": None}) == defaults("prod")


def test_the_stage_table_lists_the_same_keys_for_both_stages_and_each_is_used() -> None:
    assert list(STAGE_DEFAULTS) == list(STAGES)
    assert STAGE_DEFAULTS["dev"].keys() == STAGE_DEFAULTS["prod"].keys()
    assert STAGE_DEFAULTS["dev"].keys() <= KEYS.keys()
    assert DERIVED_DEFAULTS.keys() <= KEYS.keys()
    assert not STAGE_DEFAULTS["dev"].keys() & DERIVED_DEFAULTS.keys()
    for stage in STAGES:
        resolved = defaults(stage).model_dump(by_alias=True)
        for key, entry in STAGE_DEFAULTS[stage].items():
            expected = entry.compute(resolved) if isinstance(entry, Derived) else entry
            assert resolved[key] == expected, (stage, key)
        others = [key for key in KEYS if key not in {*STAGE_DEFAULTS[stage], *DERIVED_DEFAULTS, "stage"}]
        for key in others:
            assert resolved[key] == defaults(STAGES[0]).model_dump(by_alias=True)[key], f"{key} differs by stage"


def test_every_key_that_differs_between_stages_is_in_the_table() -> None:
    dev, prod = defaults("dev").model_dump(by_alias=True), defaults("prod").model_dump(by_alias=True)
    differing = {key for key in KEYS if dev[key] != prod[key]} - {"stage"} - DERIVED_DEFAULTS.keys()
    dev_table, prod_table = STAGE_DEFAULTS["dev"], STAGE_DEFAULTS["prod"]
    assert differing == {key for key in dev_table if dev_table[key] != prod_table[key]}


@pytest.mark.parametrize(
    ("context", "key", "expected"),
    [
        ({"stage": "prod", "maxAzs": "4"}, "natGateways", 4),
        ({"stage": "prod", "maxAzs": "4", "natGateways": "2"}, "natGateways", 2),
        ({"maxAzs": "4"}, "natGateways", 1),
        ({"auroraEngine": "aurora-mysql"}, "dbPort", 3307),
        ({"auroraEngine": "aurora-mysql", "dbPort": "3400"}, "dbPort", 3400),
        ({"servicePort": "9000"}, "peerPort", 9000),
        ({"workerMinCapacity": "2", "workerMaxCapacity": "20"}, "precomputeCapacity", 6),
        ({"workerMinCapacity": "2", "workerMaxCapacity": "5"}, "precomputeCapacity", 5),
        ({"dbMaxCapacity": "4"}, "alarmDbConnections", estimated_max_connections("aurora-postgresql", 4) * 4 // 5),
        ({"auroraEngine": "aurora-mysql"}, "alarmDbConnections", 341 * 4 // 5),
        ({"architecture": "x86_64"}, "workerInstanceType", "t3.small"),
        ({"architecture": "x86_64", "stage": "prod"}, "webInstanceType", "m7i.large"),
    ],
)
def test_computed_defaults_follow_the_keys_they_depend_on(context: dict[str, str], key: str, expected: object) -> None:
    assert read_context(context).model_dump(by_alias=True)[key] == expected


def test_connection_alarm_follows_the_capacity_and_engine() -> None:
    # 2 ACU = 4 GiB; PostgreSQL allows memory / 9,531,392 bytes connections, MySQL / 12,582,880.
    assert estimated_max_connections("aurora-postgresql", 2) == 450
    assert estimated_max_connections("aurora-mysql", 2) == 341
    assert estimated_max_connections("aurora-postgresql", 256) == 5000
    assert defaults("dev").alarm_db_connections == 360


def test_the_reference_has_every_key_with_unset_for_no_value_and_a_description() -> None:
    rows = {row.key: row for row in reference()}
    assert list(rows) == list(KEYS)
    assert all(row.description and row.accepts for row in rows.values())
    assert (rows["webDesiredCapacity"].dev, rows["webDesiredCapacity"].prod) == ("unset", "unset")
    assert (rows["alarmEmail"].dev, rows["certificateArn"].prod) == ("unset", "unset")
    assert (rows["protectData"].dev, rows["protectData"].prod) == ("false", "true")
    assert (rows["dbMinCapacity"].dev, rows["dbMaxCapacity"].prod) == ("0.5", "16")
    assert rows["natGateways"].note == "prod default: maxAzs (one per zone)"
    assert rows["peerPort"].note == "default: servicePort"
    assert rows["maxAzs"].note == ""
    assert rows["queueRetentionSeconds"].accepts == "an integer 60..1209600"


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
    for stage in STAGES:
        for architecture in ("arm64", "x86_64"):
            context = read_context({"stage": stage, "architecture": architecture})
            assert instance_architecture(context.web_instance_type) == architecture
            assert context.worker_instance_type == context.web_instance_type


def _run_app(context: dict[str, object]) -> subprocess.CompletedProcess[str]:
    """``app.py`` as the CDK CLI runs it, with ``context`` in CDK_CONTEXT_JSON."""
    return subprocess.run(
        [sys.executable, "app.py"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "CDK_CONTEXT_JSON": json.dumps(context)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_the_app_stops_on_a_bad_context_with_one_line_and_no_traceback() -> None:
    result = _run_app({**CDK_JSON_CONTEXT, "aws:cdk:enable-path-metadata": True, "stage": "prd"})
    assert result.returncode == 1
    assert result.stderr == "context error: stage must be one of dev, prod; got 'prd'\n"
    assert result.stdout == ""
