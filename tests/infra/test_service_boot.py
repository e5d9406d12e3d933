"""Code delivery in the synthesized templates: cfn-init, signals, configuration without secrets, least privilege."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from services.db_tls import RDS_CA_BUNDLE, checked_ca_file
from stacks import boot_files
from stacks.compute import DRAIN_HOOK_NAME
from stacks.constructs.service_boot import (
    DRAIN_MARGIN_SECONDS,
    SERVICES,
    SIGNAL_TIMEOUT,
    Service,
    metrics_namespace,
)
from stacks.constructs.service_code import LEFT_OUT, RUNTIME_MODULES, RUNTIME_PACKAGES
from stacks.constructs.service_metrics import ServiceMetrics
from tests.infra.cfn import evaluate, markers
from tests.infra.conftest import ROOT, Synthesized, listed
from tests.infra.rehearsal import parse_env_file, parse_unit

FLEETS: tuple[Service, ...] = ("web", "worker")
INSTANCE_ACTIONS = {
    # the fleet: its logs, the code assets, cfn-signal
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "s3:GetObject",
    "cloudformation:DescribeStackResource",
    "cloudformation:SignalResource",
    # the service: its two secrets
    "secretsmanager:GetSecretValue",
    "secretsmanager:DescribeSecret",
    # the CloudWatch agent
    "logs:DescribeLogStreams",
    "cloudwatch:PutMetricData",
}
ROLE_ACTIONS = {
    # the API: POST /jobs, asg discovery
    "web": INSTANCE_ACTIONS
    | {
        "sqs:SendMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
        "autoscaling:DescribeAutoScalingGroups",
        "ec2:DescribeInstances",
    },
    # the worker: the queue (consume, heartbeat, outbox relay), the DLQ tool, the drain hook
    "worker": INSTANCE_ACTIONS
    | {
        "sqs:ReceiveMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
        "sqs:SendMessage",
        "sqs:StartMessageMoveTask",
        "sqs:ListMessageMoveTasks",
        "sqs:CancelMessageMoveTask",
        "autoscaling:CompleteLifecycleAction",
        "autoscaling:RecordLifecycleActionHeartbeat",
    },
}
UNSCOPED_ACTIONS = {"cloudwatch:PutMetricData", "autoscaling:DescribeAutoScalingGroups", "ec2:DescribeInstances"}
"""The only actions granted on ``*``: AWS offers no resource-level permission for them."""


def _init(config: Synthesized, fleet: str) -> dict[str, Any]:
    init: dict[str, Any] = config.fleet_resource(fleet, "GroupASG")["Metadata"]["AWS::CloudFormation::Init"]
    return init


def _file(config: Synthesized, fleet: str, path: str) -> str:
    """A file cfn-init writes, with each reference shown as a marker such as ``<Fn::GetStackOutput:...>``."""
    content = _init(config, fleet)["install"]["files"][path]["content"]
    return str(evaluate(content, markers))


def _env(config: Synthesized, fleet: Service) -> dict[str, str]:
    return parse_env_file(_file(config, fleet, f"/etc/scaledref/{SERVICES[fleet].env_file}"))


def test_every_group_boots_with_cfn_init_and_reports_with_cfn_signal(config: Synthesized) -> None:
    for fleet in FLEETS:
        group = config.fleet_resource(fleet, "GroupASG")
        init = _init(config, fleet)
        assert init["configSets"] == {"install": ["install"], "verify": ["verify"]}
        user_data = json.dumps(config.fleet_resource(fleet, "LaunchTemplate"))
        group_id = config.fleet_id(fleet, "GroupASG")
        assert "/opt/aws/bin/cfn-init -v --region " in user_data
        assert f"--resource {group_id} -c install,verify" in user_data
        assert "/opt/aws/bin/cfn-signal -e $?" in user_data
        minimum = int(group["Properties"]["MinSize"])
        assert group["CreationPolicy"]["ResourceSignal"] == {
            "Count": minimum,
            "Timeout": SIGNAL_TIMEOUT.to_iso_string(),
        }
        rolling = group["UpdatePolicy"]["AutoScalingRollingUpdate"]
        assert rolling["WaitOnResourceSignals"] is True
        assert rolling["PauseTime"] == SIGNAL_TIMEOUT.to_iso_string()
        assert rolling["MaxBatchSize"] == 1
        assert rolling["MinInstancesInService"] == min(minimum, int(group["Properties"]["MaxSize"]) - 1)
        assert group["Properties"]["HealthCheckGracePeriod"] >= SIGNAL_TIMEOUT.to_seconds()
        assert set(group["DependsOn"]) >= {config.fleet_id(fleet, "RoleDefaultPolicy")}, "grants before boot"
    assert config.fleet_resource("web", "GroupASG")["Properties"]["HealthCheckType"] == "ELB"
    assert config.fleet_resource("worker", "GroupASG")["Properties"]["HealthCheckType"] == "EC2"


def test_the_services_asset_holds_the_runtime_code_and_nothing_else(dev: Synthesized) -> None:
    staged = Path(dev.assembly.directory) / f"asset.{dev.deployment.compute.code.services.asset_hash}"
    shipped = {path.relative_to(staged).as_posix() for path in staged.rglob("*") if path.is_file()}
    assert {path.split("/")[0] for path in shipped} == {*RUNTIME_PACKAGES, *RUNTIME_MODULES}
    assert not [path for path in shipped if path.startswith("local/") or "__pycache__" in path or path.endswith(".pyc")]
    assert "routing/movement.py" in LEFT_OUT
    assert checked_ca_file(staged / "certs" / RDS_CA_BUNDLE.name)  # the pinned bundle ships unaltered
    source = ROOT / "services"
    runtime = {
        path.relative_to(source).as_posix()
        for package in RUNTIME_PACKAGES
        for path in (source / package).rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert runtime - set(LEFT_OUT) <= shipped, "every module of the runtime packages ships"
    assert not set(LEFT_OUT) & shipped


def test_the_code_comes_from_exactly_the_two_assets_read_with_the_instance_role(config: Synthesized) -> None:
    code = config.deployment.compute.code
    keys = {code.services.s3_object_key, code.requirements.s3_object_key}
    for fleet in FLEETS:
        sources = evaluate(_init(config, fleet)["install"]["sources"], markers)
        assert set(sources) == {"/opt/scaledref/app/services", "/opt/scaledref/app/requirements"}
        assert {url.rsplit("/", 1)[1] for url in sources.values()} == keys
        assert sources["/opt/scaledref/app/services"].endswith(code.services.s3_object_key)
        auth = config.fleet_resource(fleet, "GroupASG")["Metadata"]["AWS::CloudFormation::Authentication"]["CodeAssets"]
        assert auth["type"] == "S3"
        assert auth["roleName"] == {"Ref": config.fleet_id(fleet, "Role")}
        assert all("cdk-hnb659fds-assets" in json.dumps(bucket) for bucket in auth["buckets"])


def test_each_service_is_configured_for_this_deployment(config: Synthesized) -> None:
    settings = config.deployment.settings
    web, worker = _env(config, "web"), _env(config, "worker")
    scheme, tls = {
        "aurora-postgresql": ("postgresql+psycopg", "sslmode=require"),
        "aurora-mysql": ("mysql+pymysql", "ssl_check_hostname=false"),
    }[settings.database.engine]
    # Markers of the outputs read from the data and messaging stacks (``<Fn::GetStackOutput:Stack:Output>``).
    data, messaging = (f"<Fn::GetStackOutput:ScaledRef-{settings.stage}-{part}:[^>]*" for part in ("Data", "Messaging"))
    for env in (web, worker):
        assert re.fullmatch(
            rf"{re.escape(scheme)}://{data}DatabaseCluster[^>]*EndpointAddress[^>]*>:"
            rf"{data}DatabaseCluster[^>]*EndpointPort[^>]*>/app\?{re.escape(tls)}",
            env["DATABASE_URL"],
        ), env["DATABASE_URL"]
        assert re.fullmatch(rf"{data}MasterUserSecretSecretArn[^>]*>", env["DATABASE_SECRET_ARN"])
        assert re.fullmatch(
            rf"rediss://{data}PrimaryEndPointAddress[^>]*>:{data}PrimaryEndPointPort[^>]*>/0", env["REDIS_URL"]
        )
        assert re.fullmatch(rf"{data}CacheAuthToken[^>]*>", env["REDIS_AUTH_SECRET_ARN"])
        assert re.fullmatch(rf"{messaging}JobQueueJobs[^>]*>", env["QUEUE_URL"])
        assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "<Ref:AWS::Region>"
        assert env["LOG_JSON"] == "true"
    compute = config.deployment.compute
    assert web["API_DISCOVERY"] == "asg"
    assert web["API_ASG_NAME"] == compute.web.group_name
    assert (web["API_HOST"], web["API_PORT"]) == ("0.0.0.0", str(settings.web.service_port))
    assert worker["WORKER_ASG_NAME"] == compute.worker.group_name
    assert worker["WORKER_LIFECYCLE_HOOK_NAME"] == DRAIN_HOOK_NAME
    demo = str(settings.demo_job_types).lower()
    assert {name: value for name, value in web.items() if name.startswith("JOB_")} == {"JOB_DEMO_TYPES": demo}
    assert {name: value for name, value in worker.items() if name.startswith("JOB_")} == {"JOB_DEMO_TYPES": demo}
    assert demo == {"dev": "true", "prod": "false"}[settings.stage]
    assert worker["WORKER_METRICS_PORT"] == str(settings.worker.metrics_port) == "9101"


def test_the_worker_drains_within_the_lifecycle_hook_and_systemd_waits_for_it(config: Synthesized) -> None:
    hook = next(iter(config.resources("compute", "AWS::AutoScaling::LifecycleHook").values()))["Properties"]
    unit = _file(config, "worker", "/etc/systemd/system/scaledref-worker.service")
    (stop_timeout,) = map(int, parse_unit(unit)["TimeoutStopSec"])
    drain = int(_env(config, "worker")["WORKER_DRAIN_SECONDS"])
    assert hook["HeartbeatTimeout"] == stop_timeout == config.deployment.settings.worker.drain_timeout_seconds
    assert drain == stop_timeout - DRAIN_MARGIN_SECONDS > 0
    assert "KillSignal=SIGTERM" in unit


def test_services_start_under_systemd_from_the_virtualenv(config: Synthesized) -> None:
    for fleet in FLEETS:
        spec = SERVICES[fleet]
        install = _init(config, fleet)["install"]
        assert install["services"] == {"systemd": {spec.unit: {"enabled": True, "ensureRunning": True}}}
        unit = _file(config, fleet, f"/etc/systemd/system/{spec.unit}.service")
        assert f"EnvironmentFile=/etc/scaledref/{spec.env_file}" in unit
        assert re.search(r"^ExecStart=/opt/scaledref/venv/bin/python -m services\.(api|worker)$", unit, re.MULTILINE)
        assert "DynamicUser=yes" in unit
        assert "NoNewPrivileges=yes" in unit
        assert set(install["packages"]["yum"]) >= {"python3.11", "amazon-cloudwatch-agent"}
        commands = [command["command"] for _, command in sorted(install["commands"].items())]
        assert "amazon-cloudwatch-agent-ctl -a fetch-config" in commands[0], "logs shipped before anything can fail"
        assert commands[1] == "/opt/scaledref/bin/install-services"
        assert install["files"][f"/etc/scaledref/{spec.env_file}"]["mode"] == "000640"
        verify = _init(config, fleet)["verify"]["commands"]["10-wait-ready"]["command"]
        assert verify.startswith("/opt/scaledref/bin/wait-ready http://127.0.0.1:")
        assert spec.log_path in verify


SECRET_PROPERTIES = {"password", "masteruserpassword", "authtoken", "secretstring", "secretvalue"}


def _secret_properties(value: Any) -> list[str]:
    """The values of every property that carries a secret, anywhere in ``value``."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key.lower() in SECRET_PROPERTIES:
                found.append(str(item))
            found.extend(_secret_properties(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(_secret_properties(item))
    return found


def test_no_secret_value_is_in_any_template_or_user_data(config: Synthesized) -> None:
    for part, template in config.templates.items():
        resources = evaluate(template["Resources"], markers)
        # The one secret a template passes on is the cache's AUTH token, as a dynamic reference that
        # CloudFormation resolves inside ElastiCache's API call; nothing else carries a secret.
        expected = ["{{resolve:secretsmanager:<Ref:CacheAuthToken"] if part == "data" else []
        assert [value[: len(expected[0])] for value in _secret_properties(resources)] == expected, part
        assert json.dumps(resources).count("{{resolve:") == len(expected), part
    for fleet in FLEETS:
        env = _env(config, fleet)
        secretish = {name for name in env if re.search("PASSWORD|TOKEN|SECRET|KEY", name)}
        peer = {"PEER_AUTH_SECRET_ARN"} if fleet == "web" else set()
        assert secretish == {"DATABASE_SECRET_ARN", "REDIS_AUTH_SECRET_ARN"} | peer, "names of secrets only"
        assert "@" not in env["DATABASE_URL"], "no credentials in URLs"
        assert "@" not in env["REDIS_URL"], "no credentials in URLs"
        user_data = json.dumps(
            config.fleet_resource(fleet, "LaunchTemplate")["Properties"]["LaunchTemplateData"]["UserData"]
        )
        assert "secretsmanager" not in user_data.lower()
        assert "GetStackOutput" not in user_data


def test_each_role_has_exactly_the_permissions_its_fleet_uses(config: Synthesized) -> None:
    for fleet in FLEETS:
        statements = config.role_statements(fleet)
        actions = {action for statement in statements for action in listed(statement["Action"])}
        assert actions == ROLE_ACTIONS[fleet], fleet
        assert not [action for action in actions if "*" in action]
        for statement in statements:
            if "*" in listed(statement["Resource"]):
                assert set(listed(statement["Action"])) <= UNSCOPED_ACTIONS, statement
        metrics = [statement for statement in statements if "cloudwatch:PutMetricData" in listed(statement["Action"])]
        assert [statement["Condition"] for statement in metrics] == [
            {"StringEquals": {"cloudwatch:namespace": metrics_namespace(config.deployment.settings.stage)}}
        ]


def test_the_worker_may_start_a_dlq_move_task_on_the_dlq_only(config: Synthesized) -> None:
    moves = {"sqs:StartMessageMoveTask", "sqs:ListMessageMoveTasks", "sqs:CancelMessageMoveTask"}
    statements = [s for s in config.role_statements("worker") if moves & set(listed(s["Action"]))]
    assert len(statements) == 1  # beside the DLQ's consume actions, on the same resource
    assert moves <= set(listed(statements[0]["Action"]))
    resources = listed(statements[0]["Resource"])
    assert len(resources) == 1
    assert "DeadLetters" in json.dumps(resources[0])
    assert not [s for s in config.role_statements("web") if moves & set(listed(s["Action"]))]


def test_secrets_are_readable_only_by_their_arns(config: Synthesized) -> None:
    for fleet in FLEETS:
        reads = [
            statement
            for statement in config.role_statements(fleet)
            if "secretsmanager:GetSecretValue" in listed(statement["Action"])
        ]
        resources = [json.dumps(resource) for statement in reads for resource in listed(statement["Resource"])]
        assert len(resources) == (3 if fleet == "web" else 2)
        assert any("PeerKeySecret" in resource for resource in resources) == (fleet == "web"), "peer key: web only"
        assert any("MasterUserSecretSecretArn" in resource for resource in resources)
        assert any("CacheAuthToken" in resource for resource in resources)
        assert not any("*" in resource for resource in resources)


def test_the_agent_ships_each_services_log_and_the_metrics_the_dashboard_shows(config: Synthesized) -> None:
    namespace = metrics_namespace(config.deployment.settings.stage)
    selected: dict[str, list[str]] = {}
    for fleet in FLEETS:
        spec = SERVICES[fleet]
        agent = json.loads(_file(config, fleet, "/opt/aws/amazon-cloudwatch-agent/etc/scaledref.json"))
        files = agent["logs"]["logs_collected"]["files"]["collect_list"]
        log_group = f"<Ref:{config.fleet_id(fleet, 'Logs')}>"
        assert {item["file_path"] for item in files} >= {spec.log_path, "/var/log/cfn-init.log"}
        assert {item["log_group_name"] for item in files} == {log_group}
        prometheus = agent["logs"]["metrics_collected"]["prometheus"]
        assert prometheus["log_group_name"] == log_group
        assert prometheus["emf_processor"]["metric_namespace"] == agent["metrics"]["namespace"] == namespace
        selected[fleet] = [
            selector
            for declaration in prometheus["emf_processor"]["metric_declaration"]
            for selector in declaration["metric_selectors"]
        ]
        scrape = _file(config, fleet, "/opt/aws/amazon-cloudwatch-agent/etc/scaledref-prometheus.yaml")
        assert f"job_name: {spec.job}" in scrape
        assert f"Fleet: {fleet}" in scrape
    services = ServiceMetrics(namespace)
    shown = [
        *((metric, "worker") for metric in services.jobs()),
        *((metric, "web") for metric in services.item_reads()),
    ]
    for metric, shown_on in shown:
        assert any(re.fullmatch(selector, metric.metric_name) for selector in selected[shown_on]), metric.metric_name
    body = json.dumps(config.only("observability", "AWS::CloudWatch::Dashboard")["DashboardBody"])
    for name in ("worker_jobs_succeeded_total", "api_item_reads_total", "mem_used_percent"):
        assert name in body


BOOT_FILES = sorted(
    str(path.relative_to(boot_files.DEPLOY_DIR)) for path in boot_files.DEPLOY_DIR.rglob("*") if path.is_file()
)


@pytest.mark.parametrize("relative", BOOT_FILES)
def test_every_boot_file_is_delivered(dev: Synthesized, relative: str) -> None:
    # Each file under deploy/ reaches the instances, line by line (lines with placeholders are filled in).
    text = json.dumps(dev.templates["compute"])
    lines = Path(boot_files.DEPLOY_DIR, relative).read_text().splitlines()
    missing = [line for line in lines if "{{" not in line and json.dumps(line)[1:-1] not in text]
    assert missing == [], relative
