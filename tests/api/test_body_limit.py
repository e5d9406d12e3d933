"""The request body limit at its exact boundary: ``API_MAX_BODY_BYTES`` bytes are accepted,
one more is 413, whether the length is declared (Content-Length) or the body is chunked."""

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

LIMIT = 1024  # the smallest limit the settings allow, so the bodies stay small


def exactly(size: int, template: str) -> bytes:
    """``template`` (JSON with one ``{pad}``) padded with ``x`` to exactly ``size`` bytes."""
    bare = template.replace("{pad}", "")
    body = template.replace("{pad}", "x" * (size - len(bare))).encode()
    assert len(body) == size
    json.loads(body)
    return body


async def chunked(body: bytes, size: int = 100) -> AsyncIterator[bytes]:
    """``body`` as a stream: httpx sends it without a Content-Length."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def declared_or_chunked(body: bytes, framing: str) -> dict[str, Any]:
    """The httpx arguments that send ``body`` with the given framing."""
    headers = {"content-type": "application/json"}
    return {"content": body if framing == "declared" else chunked(body), "headers": headers}


@pytest.fixture
async def client(sqlite_url: str, sqs_client: Any, moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    queue_url = sqs_client.create_queue(QueueName=f"limit-{secrets.token_hex(4)}")["QueueUrl"]
    app = create_app(node_settings(sqlite_url, api_max_body_bytes=LIMIT, queue_url=queue_url))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8080") as http,
    ):
        yield http


@pytest.mark.parametrize("framing", ["declared", "chunked"])
async def test_an_item_body_of_exactly_the_limit_is_written_and_one_byte_more_is_413(
    client: httpx.AsyncClient, framing: str
) -> None:
    fits = exactly(LIMIT, '{"value":"{pad}"}')
    written = await client.put("/items/fits", **declared_or_chunked(fits, framing))
    assert written.status_code == 201, written.text
    assert (await client.get("/items/fits")).json()["value"] == json.loads(fits)["value"]

    too_big = exactly(LIMIT + 1, '{"value":"{pad}"}')
    refused = await client.put("/items/too-big", **declared_or_chunked(too_big, framing))
    assert refused.status_code == 413
    assert refused.json()["error"] == {
        "code": "body_too_large",
        "message": f"request body exceeds the limit of {LIMIT} bytes",
    }
    assert (await client.get("/items/too-big")).status_code == 404  # nothing was written


@pytest.mark.parametrize("framing", ["declared", "chunked"])
async def test_a_job_body_of_exactly_the_limit_is_accepted_and_one_byte_more_is_413(
    client: httpx.AsyncClient, framing: str
) -> None:
    fits = exactly(LIMIT, '{"type":"echo","payload":{"pad":"{pad}"}}')
    accepted = await client.post("/jobs", **declared_or_chunked(fits, framing))
    assert accepted.status_code == 202, accepted.text
    job = (await client.get(accepted.headers["location"])).json()
    assert job["payload"] == json.loads(fits)["payload"]

    refused = await client.post(
        "/jobs", **declared_or_chunked(exactly(LIMIT + 1, '{"type":"echo","payload":{"pad":"{pad}"}}'), framing)
    )
    assert refused.status_code == 413
    assert refused.json()["error"]["code"] == "body_too_large"


async def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_read(client: httpx.AsyncClient) -> None:
    # The header alone decides: the body (shorter than declared) is never read.
    refused = await client.post(
        "/jobs", content=b"{}", headers={"content-type": "application/json", "content-length": str(LIMIT + 1)}
    )
    assert refused.status_code == 413
    bogus = await client.post(
        "/jobs", content=b"{}", headers={"content-type": "application/json", "content-length": "2x"}
    )
    assert bogus.status_code == 413  # a length that is not a number is not trusted either


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", b'{"type":"echo","payload":{}}'),
        ("application/x-www-form-urlencoded", b"type=echo"),
        ("multipart/form-data; boundary=x", b"--x--"),
    ],
)
async def test_a_job_body_that_is_not_json_is_415(client: httpx.AsyncClient, content_type: str, body: bytes) -> None:
    refused = await client.post("/jobs", content=body, headers={"content-type": content_type})
    assert refused.status_code == 415, refused.text
    assert refused.json()["error"] == {
        "code": "unsupported_media_type",
        "message": "the request body must be JSON (application/json)",
    }


@pytest.mark.parametrize(
    "content_type", [None, "application/json", "application/json; charset=utf-8", "application/vnd.job+json"]
)
async def test_a_job_body_in_json_is_accepted_with_or_without_a_content_type(
    client: httpx.AsyncClient, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    accepted = await client.post("/jobs", content=b'{"type":"echo","payload":{"x":1}}', headers=headers)
    assert accepted.status_code == 202, accepted.text
