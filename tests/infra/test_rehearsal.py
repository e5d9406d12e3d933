"""Offline rehearsals of a deployment: the stacks deployed into moto, then each fleet's boot run on this machine.

1. Deploy rehearsal: the synthesized network, messaging and compute templates are created by
   moto's CloudFormation (patches: tests/infra/moto_deploy.py ``PATCHES``); the data stack,
   which moto cannot create, is a stand-in with the outputs the compute stack reads. Then
   ``asg`` discovery runs against the web group moto created.
2. Boot rehearsal: each fleet's cfn-init metadata, with its references evaluated against that
   deployment, runs in a temporary root (tests/infra/rehearsal.py): the code assets come from
   (moto's) S3 as zips, the virtualenv is built from them with pip (offline, from the wheels
   `make test` prepares), the environment file and units are written, and the services start
   from their units, then the verify step waits for them. The web node must answer /readyz
   with its database, Redis and queue reachable, and the worker must run a job the web node
   accepted. In that virtualenv (requirements/services.txt only), every module of the code
   asset must import.

Stand-ins (each the only difference from an instance): moto for every AWS API (its endpoint,
fake credentials, no instance metadata for boto3); the local PostgreSQL for Aurora (a scratch
database in place of the cluster's ``app``, a secret in moto's Secrets Manager in RDS's
format); a Redis started here with TLS and an AUTH token for ElastiCache (its test CA trusted
through SSL_CERT_FILE); a loopback IMDSv2 for the worker's lifecycle polling. The worker
long-polls for 1 s instead of 20 s, so that stopping it here is quick.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
import redis
import sqlalchemy as sa

from services.local.cluster import free_port
from services.routing.discovery import AsgDiscovery
from stacks.compute import DRAIN_HOOK_NAME
from stacks.constructs.service_boot import APP_DIR
from tests.conftest import POSTGRES_ADMIN_URL, _scratch_database, skip_or_fail
from tests.infra.cfn import evaluate
from tests.infra.conftest import Synthesized, synthesize
from tests.infra.moto_deploy import (
    ACCOUNT,
    PATCHES,
    REGION,
    Deployed,
    data_stand_in,
    outputs_read,
    patch_template,
    stood_in,
    zip_directory,
)
from tests.infra.rehearsal import HOST_ONLY_COMMANDS, INSTALL_COMMAND, VENV, Booted, base_python, boot, rooted
from tests.support import FakeImds, serve_imds, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

ROOT = Path(__file__).resolve().parents[2]
WHEELHOUSE = ROOT / ".cache" / "wheels"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}
SERVICE_START_SECONDS = 60


@dataclass
class TlsRedis:
    """ElastiCache's stand-in: TLS required, AUTH token required, on a port of its own."""

    port: int
    token: str
    ca_file: Path
    process: subprocess.Popen[bytes]


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsRedis]:
    if shutil.which("redis-server") is None or shutil.which("openssl") is None:
        skip_or_fail("redis-server or openssl missing")
    directory = tmp_path_factory.mktemp("redis-tls")
    key, cert = directory / "key.pem", directory / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    port, token = free_port(), secrets.token_hex(32)
    process = subprocess.Popen(
        ["redis-server", "--port", "0", "--tls-port", str(port), "--tls-cert-file", str(cert), "--tls-key-file",
         str(key), "--tls-auth-clients", "no", "--requirepass", token, "--save", "", "--appendonly", "no",
         "--bind", "127.0.0.1", "--dir", str(directory)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(host="127.0.0.1", port=port, password=token, ssl=True, ssl_ca_certs=str(cert))
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    skip_or_fail(f"redis-server with TLS did not answer on 127.0.0.1:{port}")
                time.sleep(0.1)
        yield TlsRedis(port, token, cert, process)
    finally:
        client.close()
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def scratch_database() -> Iterator[str]:
    yield from _scratch_database(POSTGRES_ADMIN_URL, "PostgreSQL", '"', force=" WITH (FORCE)")


@pytest.fixture(scope="module")
def imds() -> Iterator[FakeImds]:
    yield from serve_imds()


@dataclass
class Rehearsal:
    """The deployment moto made and the two booted instances."""

    synthesized: Synthesized
    deployed: Deployed
    clients: dict[str, Any]
    web: Booted
    worker: Booted
    web_url: str


def _client(service: str, endpoint: str) -> Any:
    return boto3.client(  # type: ignore[call-overload]
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _publish_assets(assembly_dir: Path, stack: str, s3: Any) -> None:
    """What ``cdk deploy`` does before the stack: zip each directory asset into the bootstrap bucket."""
    manifest = json.loads((assembly_dir / f"{stack}.assets.json").read_text())
    for asset in manifest["files"].values():
        if asset["source"].get("packaging") != "zip":
            continue
        body = zip_directory(assembly_dir / asset["source"]["path"])
        for destination in asset["destinations"].values():
            bucket = destination["bucketName"].replace("${AWS::AccountId}", ACCOUNT).replace("${AWS::Region}", REGION)
            s3.create_bucket(Bucket=bucket)
            s3.put_object(Bucket=bucket, Key=destination["objectKey"], Body=body)


def _data_values(deployed: Deployed, secrets_: dict[str, str], redis_port: int) -> Callable[[str], Any]:
    """The data stack's outputs, as stand-ins: loopback endpoints, the secrets created in moto."""
    values = {
        "DatabaseCluster.*EndpointAddress": "127.0.0.1",
        "DatabaseCluster.*EndpointPort": "5432",
        "MasterUserSecretSecretArn": secrets_["database"],
        "PrimaryEndPointAddress": "127.0.0.1",
        "PrimaryEndPointPort": str(redis_port),
        "CacheAuthToken": secrets_["cache"],
        "DatabaseSecurityGroup": {"Fn::GetAtt": ["DatabaseSecurityGroup", "GroupId"]},
        "CacheSecurityGroup": {"Fn::GetAtt": ["CacheSecurityGroup", "GroupId"]},
    }

    def value(name: str) -> Any:
        found = [stand_in for pattern, stand_in in values.items() if re.search(pattern, name)]
        assert len(found) == 1, f"the compute stack reads {name}: give the data stand-in a value for it"
        return found[0]

    return value


def _boot_fleet(
    rehearsal_root: Path, fleet: str, synthesized: Synthesized, deployed: Deployed, **kwargs: Any
) -> Booted:
    group = synthesized.fleet_resource(fleet, "GroupASG")
    init = evaluate(group["Metadata"]["AWS::CloudFormation::Init"], deployed.lookup("ScaledRef-dev-Compute"))
    template = synthesized.fleet_resource(fleet, "LaunchTemplate")
    user_data = json.dumps(template["Properties"]["LaunchTemplateData"]["UserData"])
    config_sets = re.search(r"cfn-init -v .* -c ([a-z,]+)", user_data).group(1).split(",")  # type: ignore[union-attr]
    return boot(init, config_sets, rehearsal_root / fleet, **kwargs)


@pytest.fixture(scope="module")
def rehearsal(
    tmp_path_factory: pytest.TempPathFactory,
    moto_server: str,
    tls_redis: TlsRedis,
    scratch_database: str,
    imds: FakeImds,
) -> Iterator[Rehearsal]:
    if not (WHEELHOUSE / ".built").exists():
        skip_or_fail(f"no wheels in {WHEELHOUSE}: run make test (it builds them)")
    service_port, metrics_port = free_port(), free_port()
    synthesized = synthesize(
        "rehearsal",
        {"stage": "dev", "servicePort": str(service_port), "workerMetricsPort": str(metrics_port)},
        tmp_path_factory.mktemp("cdk-rehearsal"),
    )
    clients = {
        name: _client(name, moto_server) for name in ("cloudformation", "s3", "secretsmanager", "autoscaling", "ec2")
    }
    templates = {part.capitalize(): template for part, template in synthesized.templates.items()}
    assembly_dir = Path(synthesized.assembly.directory)
    _publish_assets(assembly_dir, "ScaledRef-dev-Compute", clients["s3"])
    database_user = sa.make_url(scratch_database).username or "postgres"
    secret_arns = {
        "database": clients["secretsmanager"].create_secret(
            Name=f"rehearsal-db-{secrets.token_hex(4)}",
            SecretString=json.dumps({"username": database_user, "password": secrets.token_urlsafe(24)}),
        )["ARN"],
        "cache": clients["secretsmanager"].create_secret(
            Name=f"rehearsal-cache-{secrets.token_hex(4)}", SecretString=tls_redis.token
        )["ARN"],
    }
    deployed = Deployed(clients["cloudformation"])
    deployed.deploy("ScaledRef-dev-Network", patch_template(templates["Network"]))
    deployed.deploy("ScaledRef-dev-Messaging", patch_template(templates["Messaging"]))
    vpc = next(
        value
        for name, value in deployed.outputs["ScaledRef-dev-Network"].items()
        if re.search(r"NetworkVpc[0-9A-F]+$", name)
    )
    deployed.deploy(
        "ScaledRef-dev-Data",
        data_stand_in(
            outputs_read(templates["Compute"], "ScaledRef-dev-Data"),
            _data_values(deployed, secret_arns, tls_redis.port),
            {
                f"{name}SecurityGroup": {
                    "Type": "AWS::EC2::SecurityGroup",
                    "Properties": {"GroupDescription": f"{name} stand-in", "VpcId": vpc},
                }
                for name in ("Database", "Cache")
            },
        ),
    )
    deployed.deploy("ScaledRef-dev-Compute", patch_template(templates["Compute"]), stood_in(templates["Compute"]))
    hook = next(
        resource["Properties"]
        for resource in templates["Compute"]["Resources"].values()
        if resource["Type"] == "AWS::AutoScaling::LifecycleHook"
    )
    hook = evaluate(hook, deployed.lookup("ScaledRef-dev-Compute"))
    clients["autoscaling"].put_lifecycle_hook(**hook)  # PATCHES: LifecycleHook, through the API

    scratch = sa.make_url(scratch_database)
    # PATCH: the web unit's RuntimeDirectory (/run/scaledref-api) is made fresh at each start by
    # systemd; the rehearsal gives each run a fresh one of its own.
    run_dir = tmp_path_factory.mktemp("run") / "discovery"

    def service_env(unit_env: dict[str, str]) -> dict[str, str]:
        database_url = sa.make_url(unit_env["DATABASE_URL"])
        assert database_url.database == "app"
        assert database_url.username is None
        assert database_url.query == {"sslmode": "require"}
        # PATCH: this machine's PostgreSQL has no TLS, so the rehearsal connects without it;
        # Aurora refuses plain connections (rds.force_ssl), asserted in test_data_stack.
        database_url = database_url.difference_update_query(["sslmode"])
        # ... and without verifying it against the RDS CA bundle, which the asset carries intact:
        assert unit_env["DATABASE_TLS_CA_FILE"] == "/opt/scaledref/app/services/certs/rds-ca-bundle.pem"
        return {
            "DATABASE_TLS_CA_FILE": "",
            "API_DISCOVERY_RUN_DIR": str(run_dir),
            **CREDENTIALS,
            "AWS_ENDPOINT_URL": moto_server,
            "AWS_EC2_METADATA_DISABLED": "true",
            "WORKER_IMDS_ENDPOINT": imds.url,
            "SSL_CERT_FILE": str(tls_redis.ca_file),
            "DATABASE_URL": database_url.set(database=scratch.database).render_as_string(hide_password=False),
            # A 1 s long poll instead of 20 s, so that stopping the worker in this test takes a second.
            "WORKER_RECEIVE_WAIT_SECONDS": "1",
        }

    command_env = {
        "SCALEDREF_PYTHON": base_python(),
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(WHEELHOUSE),
        "PIP_CONFIG_FILE": os.devnull,  # this machine's pip configuration is not the instance's
    }
    root = tmp_path_factory.mktemp("instances")
    booted: list[Booted] = []
    try:
        for fleet in ("web", "worker"):
            booted.append(
                _boot_fleet(
                    root,
                    fleet,
                    synthesized,
                    deployed,
                    s3=clients["s3"],
                    command_env=command_env,
                    service_env=service_env,
                    same_install_as=booted[0] if booted else None,
                )
            )
        yield Rehearsal(synthesized, deployed, clients, booted[0], booted[1], f"http://127.0.0.1:{service_port}")
    finally:
        for instance in booted:
            instance.stop()
        for client in clients.values():
            client.close()


def _group_instances(rehearsal: Rehearsal, name: str) -> dict[str, str]:
    group = rehearsal.clients["autoscaling"].describe_auto_scaling_groups(AutoScalingGroupNames=[name])
    ids = [instance["InstanceId"] for instance in group["AutoScalingGroups"][0]["Instances"]]
    reservations = rehearsal.clients["ec2"].describe_instances(InstanceIds=ids)["Reservations"]
    return {instance["InstanceId"]: instance["PrivateIpAddress"] for r in reservations for instance in r["Instances"]}


def test_moto_creates_the_stacks_with_only_the_documented_patches(rehearsal: Rehearsal) -> None:
    settings = rehearsal.synthesized.deployment.settings
    compute = rehearsal.synthesized.deployment.compute
    for fleet, fleet_settings in ((compute.web, settings.web.fleet), (compute.worker, settings.worker.fleet)):
        instances = _group_instances(rehearsal, fleet.group_name)
        assert len(instances) == fleet_settings.min_capacity
    hooks = rehearsal.clients["autoscaling"].describe_lifecycle_hooks(AutoScalingGroupName=compute.worker.group_name)
    assert [(hook["LifecycleHookName"], hook["HeartbeatTimeout"]) for hook in hooks["LifecycleHooks"]] == [
        (DRAIN_HOOK_NAME, settings.worker.drain_timeout_seconds)
    ]
    for part in ("network", "messaging", "compute"):
        template = rehearsal.synthesized.templates[part]
        created = rehearsal.deployed.created[f"ScaledRef-dev-{part.capitalize()}"]
        assert created == set(patch_template(template)["Resources"]), f"moto created every resource of {part}"
        removed = {
            resource["Type"] for logical_id, resource in template["Resources"].items() if logical_id not in created
        }
        assert removed <= {*PATCHES, "AWS::Lambda::Function", "AWS::IAM::Role"}, "only documented patches"


def test_asg_discovery_lists_the_web_groups_instances(rehearsal: Rehearsal) -> None:
    env = rehearsal.web.service_env
    port = int(env["API_PORT"])
    discovery = AsgDiscovery(
        env["API_ASG_NAME"], port=port, autoscaling=rehearsal.clients["autoscaling"], ec2=rehearsal.clients["ec2"]
    )
    expected = sorted(f"{ip}:{port}" for ip in _group_instances(rehearsal, env["API_ASG_NAME"]).values())
    assert discovery.members() == expected
    ring = httpx.get(f"{rehearsal.web_url}/ring", timeout=5).json()
    # One poller per instance: the node's processes share the answers through the run directory.
    assert (
        ring["discovery"] == f"asg {env['API_ASG_NAME']} (shared through {env['API_DISCOVERY_RUN_DIR']}/members.json)"
    )
    assert ring["members"] == expected, "the booted node found the same members"


def test_every_boot_step_ran_or_is_host_only(rehearsal: Rehearsal) -> None:
    assert f"command {INSTALL_COMMAND}" in rehearsal.web.steps, "the web instance built its virtualenv"
    assert f"command {INSTALL_COMMAND} (same as web)" in rehearsal.worker.steps, "the worker's is the same build"
    for booted, unit in ((rehearsal.web, "scaledref-api"), (rehearsal.worker, "scaledref-worker")):
        host_only = [step for step in booted.steps if step.endswith("(host)")]
        assert {step.split()[1] for step in host_only if step.startswith("command")} == set(HOST_ONLY_COMMANDS)
        assert booted.commands[INSTALL_COMMAND] == "/opt/scaledref/bin/install-services"
        assert "command 10-wait-ready" in booted.steps, "the verify step waited for the service"
        assert f"service {unit}" in booted.steps
        assert booted.steps.index(f"service {unit}") < booted.steps.index("command 10-wait-ready")
        venv_python = rooted(booted.root, "/opt/scaledref/venv/bin/python")
        assert venv_python.exists()
        env_file = next(rooted(booted.root, "/etc/scaledref").iterdir())
        assert oct(env_file.stat().st_mode & 0o777) == "0o640"


_IMPORT_EVERY_MODULE = """
import importlib, importlib.util, json, sys
failed = {}
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except Exception as error:
        failed[name] = f"{type(error).__name__}: {error}"
services = sys.modules["services"].__file__
matplotlib = importlib.util.find_spec("matplotlib") is not None
print(json.dumps({"failed": failed, "services": services, "matplotlib": matplotlib}))
"""


def test_every_module_of_the_code_asset_imports_in_the_instances_virtualenv(rehearsal: Rehearsal) -> None:
    """The virtualenv install-services built from requirements/services.txt alone (the wheelhouse)
    imports every module the asset ships: nothing the instances run needs more than that."""
    app = rooted(rehearsal.web.root, APP_DIR)
    shipped = sorted(
        ".".join(path.relative_to(app).with_suffix("").parts).removesuffix(".__init__")
        for path in (app / "services").rglob("*.py")
    )
    assert not [name for name in shipped if name.startswith("services.local") or name.endswith(".movement")]
    assert {"services.api.app", "services.worker.worker", "services.items.warming", "services.jobs.spec"} <= set(
        shipped
    )
    result = subprocess.run(
        [str(rooted(rehearsal.web.root, VENV)) + "/bin/python", "-E", "-s", "-c", _IMPORT_EVERY_MODULE, *shipped],
        cwd=app,
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["failed"] == {}, "modules of the asset that do not import with requirements/services.txt"
    assert report["services"] == str(app / "services" / "__init__.py"), "the asset's code, not the repository's"
    assert not report["matplotlib"], "the virtualenv holds only what requirements/services.txt installs"


def test_no_secret_value_reaches_the_instances_files(rehearsal: Rehearsal, tls_redis: TlsRedis) -> None:
    manager = rehearsal.clients["secretsmanager"]
    values = [tls_redis.token]
    database_arn = rehearsal.web.service_env["DATABASE_SECRET_ARN"]
    values.append(json.loads(manager.get_secret_value(SecretId=database_arn)["SecretString"])["password"])
    for booted in (rehearsal.web, rehearsal.worker):
        for path in rooted(booted.root, "/etc").rglob("*"):
            if path.is_file():
                text = path.read_text()
                assert not [value for value in values if value in text], path


def test_the_web_node_serves_with_its_database_redis_and_queue(rehearsal: Rehearsal) -> None:
    health = httpx.get(f"{rehearsal.web_url}/healthz", timeout=5)
    assert health.status_code == 200
    ready = httpx.get(f"{rehearsal.web_url}/readyz", timeout=10)
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "redis": "ok", "queue": "ok"}


def _spawned_workers(pid: int) -> list[int]:
    """The worker processes ``pid`` started with multiprocessing (not its resource tracker)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if parent == pid and b"spawn_main" in command:
            children.append(int(stat.parent.name))
    return children


def _requests_served(metrics: str, route: str) -> float:
    pattern = rf'^api_requests_total\{{[^}}]*route="{re.escape(route)}"[^}}]*\}} ([0-9.e+]+)$'
    return sum(float(value) for value in re.findall(pattern, metrics, re.MULTILINE))


def test_one_api_process_per_cpu_and_metrics_count_them_all(rehearsal: Rehearsal) -> None:
    (main,) = rehearsal.web.processes.values()
    assert len(_spawned_workers(main.pid)) == (os.cpu_count() or 1), "API_WORKERS=auto: one worker per CPU"
    before = _requests_served(httpx.get(f"{rehearsal.web_url}/metrics", timeout=5).text, "/healthz")
    with httpx.Client(base_url=rehearsal.web_url, timeout=5) as client:
        for _ in range(40):
            client.get("/healthz", headers={"connection": "close"})  # new connections spread over the processes
    after = _requests_served(httpx.get(f"{rehearsal.web_url}/metrics", timeout=5).text, "/healthz")
    assert after - before == 40, "every process's requests are in the one scrape the agent makes"


def test_the_worker_runs_a_job_the_web_node_accepted(rehearsal: Rehearsal) -> None:
    accepted = httpx.post(
        f"{rehearsal.web_url}/jobs", json={"type": "echo", "payload": {"booted": "from the assets"}}, timeout=10
    )
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["id"]

    def finished() -> dict[str, Any] | None:
        job: dict[str, Any] = httpx.get(f"{rehearsal.web_url}/jobs/{job_id}", timeout=5).json()
        return job if job["status"] in ("succeeded", "failed") else None

    job = wait_until(finished, timeout=30, interval=0.3)
    assert (job["status"], job["result"]) == ("succeeded", {"booted": "from the assets"})
    metrics = httpx.get(f"http://127.0.0.1:{rehearsal.worker.service_env['WORKER_METRICS_PORT']}/metrics", timeout=5)
    assert re.search(r'^worker_jobs_succeeded_total\{type="echo"\} [1-9]', metrics.text, re.MULTILINE)


def test_services_log_json_lines_to_the_files_the_agent_ships(rehearsal: Rehearsal) -> None:
    for booted, service in ((rehearsal.web, "api"), (rehearsal.worker, "worker")):
        (log,) = booted.logs.values()
        assert log == rooted(booted.root, f"/var/log/scaledref/{service}.log")
        events = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        assert events, f"{service} wrote nothing"
        assert {event["service"] for event in events} == {service}


def test_the_worker_drains_and_exits_cleanly_when_stopped(rehearsal: Rehearsal) -> None:
    codes = rehearsal.worker.stop(timeout=SERVICE_START_SECONDS)
    assert codes == {"scaledref-worker": 0}
    (log,) = rehearsal.worker.logs.values()
    events = [json.loads(line)["event"] for line in log.read_text().splitlines() if line.strip()]
    assert "draining" in events
    assert events[-1] == "worker stopped"
