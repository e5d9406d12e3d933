"""POST /jobs and GET /jobs/{id} against the job store and a queue on moto."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.api.app import create_app
from tests.api.conftest import node_settings

pytestmark = pytest.mark.anyio


@pytest.fixture
def queue_url(sqs_client: Any, moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)  # boto3 reads it, as on the local system
    return str(sqs_client.create_queue(QueueName=f"jobs-{secrets.token_hex(4)}")["QueueUrl"])


@pytest.fixture
async def client(sqlite_url: str, queue_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(node_settings(sqlite_url, queue_url=queue_url))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8080") as http,
    ):
        yield http


async def test_a_job_is_accepted_queued_and_reported(
    client: httpx.AsyncClient, sqs_client: Any, queue_url: str
) -> None:
    accepted = await client.post("/jobs", json={"type": "echo", "payload": {"x": 1}})
    assert accepted.status_code == 202
    body = accepted.json()
    assert body["status"] == "queued"
    assert accepted.headers["location"] == f"/jobs/{body['id']}"
    messages = sqs_client.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert [json.loads(m["Body"])["job_id"] for m in messages] == [body["id"]]
    job = (await client.get(accepted.headers["location"])).json()
    assert (job["id"], job["type"], job["payload"], job["status"], job["attempts"]) == (
        body["id"],
        "echo",
        {"x": 1},
        "queued",
        0,
    )
    assert job["result"] is None
    assert job["error"] is None
    ready = (await client.get("/readyz")).json()
    assert ready["checks"]["queue"] == "ok"


async def test_an_idempotency_key_returns_the_same_job(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "order-17"}
    first = await client.post("/jobs", json={"type": "echo", "payload": {"x": 1}}, headers=headers)
    again = await client.post("/jobs", json={"type": "echo", "payload": {"x": 1}}, headers=headers)
    assert first.json()["id"] == again.json()["id"]
    conflict = await client.post("/jobs", json={"type": "echo", "payload": {"x": 2}}, headers=headers)
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "conflict"


async def test_payload_numbers_are_json_numbers(client: httpx.AsyncClient) -> None:
    # 1597.0 is the integer 1597 in JSON (and in JSON Schema); 1.5 is not an integer
    whole = await client.post("/jobs", json={"type": "precompute", "payload": {"top": 1597.0, "window_hours": 2}})
    assert whole.status_code == 202, whole.text
    fraction = await client.post("/jobs", json={"type": "precompute", "payload": {"top": 1.5}})
    assert fraction.status_code == 422


async def test_idempotency_keys_of_1_to_200_characters_are_accepted_and_documented(client: httpx.AsyncClient) -> None:
    job = {"type": "echo", "payload": {}}
    for key in ("k", "k" * 200):
        assert (await client.post("/jobs", json=job, headers={"Idempotency-Key": key})).status_code == 202
    too_long = await client.post("/jobs", json=job, headers={"Idempotency-Key": "k" * 201})
    assert too_long.status_code == 422
    assert "Idempotency-Key" in too_long.json()["error"]["message"]
    assert (await client.post("/jobs", json=job, headers={"Idempotency-Key": ""})).status_code == 422
    (parameter,) = (await client.get("/openapi.json")).json()["paths"]["/jobs"]["post"]["parameters"]
    assert parameter["name"] == "Idempotency-Key"
    assert {"type": "string", "minLength": 1, "maxLength": 200} in parameter["schema"]["anyOf"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"type": "no-such-type", "payload": {}}, "unknown job type 'no-such-type'"),
        ({"type": "sleep", "payload": {"seconds": "long"}}, "field 'seconds'"),
        ({"type": "sleep", "payload": {"seconds": False}}, "field 'seconds'"),  # JSON types, not Python's coercions
        ({"type": "sleep", "payload": {"seconds": "1"}}, "field 'seconds'"),
        ({"type": "cpu", "payload": {"rounds": True}}, "field 'rounds'"),
        ({"type": "", "payload": {}}, "type"),
        ({"type": "echo", "payload": [1]}, "payload"),
        ({"payload": {}}, "type"),
    ],
)
async def test_bad_jobs_are_422_naming_the_problem(
    client: httpx.AsyncClient, body: dict[str, Any], message: str
) -> None:
    response = await client.post("/jobs", json=body)
    assert response.status_code == 422, response.text
    assert message in response.json()["error"]["message"]


async def test_malformed_json_is_400_and_an_unknown_job_404(client: httpx.AsyncClient) -> None:
    assert (await client.post("/jobs", content=b"{", headers={"content-type": "application/json"})).status_code == 400
    missing = await client.get("/jobs/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


async def test_without_a_queue_jobs_are_refused_but_readable(sqlite_url: str) -> None:
    app = create_app(node_settings(sqlite_url))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as http,
    ):
        refused = await http.post("/jobs", json={"type": "echo", "payload": {}})
        assert refused.status_code == 503
        assert refused.json()["error"] == {
            "code": "jobs_disabled",
            "message": "jobs are not accepted by this node: QUEUE_URL is not set",
        }
        assert (await http.get("/jobs/nope")).status_code == 404
