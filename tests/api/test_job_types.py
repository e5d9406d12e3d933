"""The job types the API accepts and documents are the contract's (services.jobs.types),
extension contract modules (``JOB_TYPE_MODULES``) included; the API never loads the worker."""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.api.app import create_app
from tests.api.conftest import node_settings
from tests.jobs.conftest import CONTRACT_SAMPLE, scratch_job_types  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("scratch_job_types")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def queue_url(sqs_client: Any, moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    return str(sqs_client.create_queue(QueueName=f"jobs-{secrets.token_hex(4)}")["QueueUrl"])


def _variants(openapi: dict[str, Any]) -> dict[str, dict[str, Any]]:
    body = openapi["paths"]["/jobs"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return {variant["properties"]["type"]["const"]: variant for variant in body["oneOf"]}


@pytest.mark.anyio
async def test_a_type_from_a_contract_module_is_documented_and_accepted(sqlite_url: str, queue_url: str) -> None:
    app = create_app(node_settings(sqlite_url, queue_url=queue_url, job_type_modules=CONTRACT_SAMPLE))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8080") as http,
    ):
        variants = _variants((await http.get("/openapi.json")).json())
        assert {"echo", "sleep", "cpu", "fail", "precompute", "test-unbound"} <= set(variants)
        assert variants["test-unbound"]["description"] == "Declared, with no handler anywhere."
        assert variants["test-unbound"]["properties"]["payload"]["required"] == ["size"]
        refused = await http.post("/jobs", json={"type": "test-unbound", "payload": {"size": 0}})
        assert refused.status_code == 422
        assert "field 'size'" in refused.json()["error"]["message"]
        accepted = await http.post("/jobs", json={"type": "test-unbound", "payload": {"size": 2}})
        assert accepted.status_code == 202, accepted.text


@pytest.mark.anyio
async def test_without_the_module_the_type_is_unknown(sqlite_url: str, queue_url: str) -> None:
    app = create_app(node_settings(sqlite_url, queue_url=queue_url))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8080") as http,
    ):
        assert "test-unbound" not in _variants((await http.get("/openapi.json")).json())
        refused = await http.post("/jobs", json={"type": "test-unbound", "payload": {"size": 2}})
        assert refused.status_code == 422
        assert "unknown job type 'test-unbound'" in refused.json()["error"]["message"]


def test_a_contract_module_that_cannot_be_imported_stops_the_app_naming_it(sqlite_url: str) -> None:
    with pytest.raises(ImportError, match="job type module 'no_such_types' cannot be imported"):
        create_app(node_settings(sqlite_url, job_type_modules="no_such_types"))


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"JOB_TYPE_MODULES": "no_such_types"}, "error: job type module 'no_such_types' cannot be imported"),
        ({"REDIS_URL": "localhost:6379"}, "error: setting REDIS_URL is invalid: must be a redis://"),
    ],
)
def test_the_command_stops_with_one_line_naming_a_bad_module_or_cache_url(
    setting: dict[str, str], message: str
) -> None:
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", **setting}
    result = subprocess.run(
        [sys.executable, "-m", "services.api", "--check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith(message), result.stderr
    assert result.stderr.count("\n") == 1
