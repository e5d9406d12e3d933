"""Schemathesis, with every one of its checks, on every operation of the OpenAPI document,
through the local system's balancer (the way clients reach the nodes): generated requests,
valid and invalid, never get a 5xx or an answer the document does not describe."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import schemathesis

pytestmark = pytest.mark.slow

OPERATIONS = {
    ("GET", "/items/{key}"),
    ("PUT", "/items/{key}"),
    ("POST", "/jobs"),
    ("GET", "/jobs/{job_id}"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/ring"),
    ("GET", "/metrics"),
}


def test_every_operation_is_documented(local_system: str) -> None:
    schema = schemathesis.openapi.from_url(f"{local_system}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    documented = {(op.method.upper(), op.path) for op in operations}
    assert documented == OPERATIONS


def test_schemathesis_finds_nothing_through_the_balancer(local_system: str, tmp_path: Path) -> None:
    # Every phase (examples, coverage, fuzzing, stateful), every check, both generation modes;
    # a fixed seed and a bounded number of examples keep it reproducible and under a minute.
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "run",
        f"{local_system}/openapi.json",
        "--url",
        local_system,
        "--checks",
        "all",
        "--mode",
        "all",
        "--max-examples",
        "25",
        "--seed",
        "2026",
        "--generation-database",
        "none",
        "--request-timeout",
        "10",
        "--no-color",
    ]
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert f"Tested: {len(OPERATIONS)}\n" in run.stdout  # every operation was run


# The three things schemathesis found through the balancer, pinned so they stay fixed whatever it generates.


def test_idempotency_keys_the_server_refuses_are_outside_the_documented_schema(local_system: str) -> None:
    (parameter,) = httpx.get(f"{local_system}/openapi.json").json()["paths"]["/jobs"]["post"]["parameters"]
    assert {"type": "string", "minLength": 1, "maxLength": 200} in parameter["schema"]["anyOf"]
    job = {"type": "echo", "payload": {}}
    assert httpx.post(f"{local_system}/jobs", json=job, headers={"Idempotency-Key": "k" * 200}).status_code == 202
    refused = httpx.post(f"{local_system}/jobs", json=job, headers={"Idempotency-Key": "k" * 201})
    assert refused.status_code == 422


def test_a_wrong_method_on_an_item_allows_get_and_put(local_system: str) -> None:
    for method in ("OPTIONS", "DELETE", "POST"):
        answer = httpx.request(method, f"{local_system}/items/k")
        assert answer.status_code == 405
        assert answer.headers["allow"] == "GET, PUT"
        assert answer.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize("job_id", ["%06%1D%0AR", "a%0Ab", "%0D%0A", "x%00"])
def test_a_job_id_with_control_characters_is_a_json_404(local_system: str, job_id: str) -> None:
    answer = httpx.get(f"{local_system}/jobs/{job_id}")
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["error"]["code"] == "not_found"
