"""Schemathesis against the OpenAPI document of a real node: generated requests, valid and
invalid, never get a 5xx or a response that breaks the documented schema."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from services.local.cluster import free_port
from tests.api.processes import NodeProcesses

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def node_url(tmp_path_factory: pytest.TempPathFactory, moto_server: str) -> Iterator[str]:
    workdir: Path = tmp_path_factory.mktemp("openapi")
    # Module scope runs before the autouse fake-credentials fixture: name them here.
    fake = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    sqs = boto3.client(
        "sqs",
        endpoint_url=moto_server,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    queue = sqs.create_queue(QueueName=f"openapi-{secrets.token_hex(4)}")["QueueUrl"]
    group = NodeProcesses(workdir)
    try:
        (name,) = group.start(
            [free_port()],
            {
                "DATABASE_URL": f"sqlite:///{workdir / 'app.db'}",
                "QUEUE_URL": queue,
                "AWS_ENDPOINT_URL": moto_server,
                **fake,
            },
        )
        yield f"http://{name}"
    finally:
        group.stop_all()
        sqs.close()


OPERATIONS = [
    ("GET", "/items/{key}"),
    ("PUT", "/items/{key}"),
    ("POST", "/jobs"),
    ("GET", "/jobs/{job_id}"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/ring"),
    ("GET", "/metrics"),
]


@pytest.fixture(scope="module")
def api_schema(node_url: str) -> Any:
    return schemathesis.openapi.from_url(f"{node_url}/openapi.json")


def test_every_operation_is_exercised(api_schema: Any) -> None:
    documented = {(op.ok().method.upper(), op.ok().path) for op in api_schema.get_all_operations()}
    assert documented == set(OPERATIONS)


# Requests that break the schema exist only where the schema constrains something.
CONSTRAINED = [("GET", "/items/{key}"), ("PUT", "/items/{key}"), ("POST", "/jobs"), ("GET", "/ring")]
CASES = [(m, p, GenerationMode.POSITIVE) for m, p in OPERATIONS] + [
    (m, p, GenerationMode.NEGATIVE) for m, p in CONSTRAINED
]


@pytest.mark.parametrize(("method", "path", "mode"), CASES, ids=[f"{m} {p} {g.value}" for m, p, g in CASES])
def test_the_api_keeps_its_contract(api_schema: Any, method: str, path: str, mode: GenerationMode) -> None:
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=True)
    def check(case: Any) -> None:
        case.call_and_validate(timeout=10)

    check()
