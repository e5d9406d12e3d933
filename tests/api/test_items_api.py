"""The item read and write paths of one node, in-process: tiers, statuses, input limits."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from services.api.app import create_app
from services.api.node import Node
from tests.api.conftest import node_settings

pytestmark = pytest.mark.anyio

NodeClient = tuple[Node, httpx.AsyncClient]


async def test_put_creates_then_replaces(node: NodeClient) -> None:
    _, client = node
    created = await client.put("/items/user:42", json={"value": {"name": "Ada", "langs": ["en", "fr"]}})
    assert created.status_code == 201
    assert created.headers["location"] == "/items/user:42"
    assert created.json() == {
        "key": "user:42",
        "value": {"name": "Ada", "langs": ["en", "fr"]},
        "version": 1,
        "owner": "127.0.0.1:8080",
        "served_by": "127.0.0.1:8080",
    }
    replaced = await client.put("/items/user:42", json={"value": None})
    assert replaced.status_code == 200
    assert replaced.json()["version"] == 2
    read = await client.get("/items/user:42")
    assert read.status_code == 200
    assert read.json() == {
        "key": "user:42",
        "value": None,
        "version": 2,
        "owner": "127.0.0.1:8080",
        "served_by": "127.0.0.1:8080",
        "cache": "local",
    }


async def test_reads_fill_the_local_cache_from_the_database(sqlite_url: str) -> None:
    settings = node_settings(sqlite_url)
    first = create_app(settings)
    async with first.router.lifespan_context(first), _client(first) as client:
        await client.put("/items/k", json={"value": [1, 2, 3]})
    second = create_app(settings)  # a fresh node: an empty cache, the same database
    async with second.router.lifespan_context(second), _client(second) as client:
        tiers = [(await client.get("/items/k")).json()["cache"] for _ in range(3)]
        assert tiers == ["db", "local", "local"]
        assert (await client.get("/items/k")).json()["value"] == [1, 2, 3]


async def test_keys_with_every_allowed_character_round_trip(node: NodeClient) -> None:
    _, client = node
    key = "Az09-._~:@!$&'()*+,;="
    written = await client.put(f"/items/{key}", json={"value": "v"})
    assert written.status_code == 201
    assert written.headers["location"] == f"/items/{key}"
    read = await client.get(f"/items/{key}")
    assert read.json()["key"] == key


async def test_a_missing_item_is_404_with_the_error_body(node: NodeClient) -> None:
    _, client = node
    response = await client.get("/items/absent")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "item 'absent' not found"}}


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/items/" + "x" * 251, "invalid_key"),
        ("/items/" + "%C3%A9", "invalid_key"),  # é: not in the key alphabet
        ("/items/a%20b", "invalid_key"),
        ("/items/a%00b", "invalid_key"),
        ("/items/a%25b", "invalid_key"),
    ],
)
async def test_bad_keys_are_422_on_read_and_write(node: NodeClient, path: str, code: str) -> None:
    _, client = node
    for response in (await client.get(path), await client.put(path, json={"value": 1})):
        assert response.status_code == 422
        assert response.json()["error"]["code"] == code


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b'{"value": ', "application/json", 400, "malformed_json"),
        (b"[" * 100_000, "application/json", 400, "bad_request"),  # nesting too deep to parse
        (b'{"value": NaN}', "application/json", 422, "invalid_request"),
        (b'{"value": 1e999}', "application/json", 422, "invalid_request"),
        (b"[1, 2]", "application/json", 422, "invalid_request"),
        (b"{}", "application/json", 422, "invalid_request"),
        (b'{"value": 1, "extra": 2}', "application/json", 422, "invalid_request"),
        (b"value=1", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        (b"", "application/json", 422, "invalid_request"),
    ],
)
async def test_bad_bodies_are_client_errors(
    node: NodeClient, body: bytes, content_type: str, status: int, code: str
) -> None:
    _, client = node
    response = await client.put("/items/k", content=body, headers={"content-type": content_type})
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert (await client.get("/items/k")).status_code == 404  # nothing was written


async def test_a_json_body_without_content_type_is_accepted(node: NodeClient) -> None:
    _, client = node
    response = await client.put("/items/k", content=b'{"value": 7}')
    assert response.status_code == 201


async def test_bodies_over_the_limit_are_413_declared_or_chunked(node: NodeClient) -> None:
    _, client = node
    big = json.dumps({"value": "x" * (1024 * 1024)}).encode()
    declared = await client.put("/items/k", content=big, headers={"content-type": "application/json"})
    assert declared.status_code == 413
    assert declared.json()["error"]["code"] == "body_too_large"

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    chunked = await client.put("/items/k", content=chunks(), headers={"content-type": "application/json"})
    assert chunked.status_code == 413
    just_fits = json.dumps({"value": "x" * (1024 * 1024 - 20)}).encode()
    assert len(just_fits) <= 1024 * 1024
    assert (await client.put("/items/k", content=just_fits)).status_code == 201
    assert len((await client.get("/items/k")).json()["value"]) == 1024 * 1024 - 20


async def test_unknown_routes_and_methods_are_4xx_with_the_error_body(node: NodeClient) -> None:
    _, client = node
    missing = await client.get("/nothing/here")
    assert missing.status_code == 404
    assert missing.json() == {"error": {"code": "not_found", "message": "no route for GET /nothing/here"}}
    wrong = await client.delete("/items/k")
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "method_not_allowed"
    for method in ("DELETE", "OPTIONS", "POST"):  # every method the path serves, from both of its routes
        assert (await client.request(method, "/items/k")).headers["allow"] == "GET, PUT"
    assert (await client.delete("/jobs")).headers["allow"] == "POST"
    assert (await client.post("/healthz")).headers["allow"] == "GET"
    assert (await client.get("/items/")).status_code == 404


async def test_health_ready_ring_and_docs(node: NodeClient) -> None:
    node_, client = node
    assert (await client.get("/healthz")).json() == {"status": "ok", "node": "127.0.0.1:8080"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "redis": "skipped", "queue": "skipped"}
    ring = (await client.get("/ring", params={"key": "k"})).json()
    assert ring["members"] == ["127.0.0.1:8080"]
    assert ring["node"] == "127.0.0.1:8080"
    assert ring["vnodes"] == 512
    assert ring["version"] == node_.membership.ring.version
    assert ring["key"] == {"key": "k", "owner": "127.0.0.1:8080", "preference": ["127.0.0.1:8080"]}
    assert (await client.get("/ring", params={"key": "a b"})).status_code == 422
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', docs.text) + re.findall(r"url: '([^']+)'", docs.text)
    assert "/docs-assets/swagger-ui-bundle.js" in assets
    assert all(asset.startswith("/") for asset in assets), assets  # nothing from a CDN: /docs works offline
    for asset in assets:
        assert (await client.get(asset)).status_code == 200, asset
    assert "SwaggerUIBundle" in (await client.get("/docs-assets/swagger-ui-bundle.js")).text
    redoc = await client.get("/redoc")
    assert redoc.status_code == 200
    assert '<script src="/docs-assets/redoc.standalone.js">' in redoc.text
    assert "Redoc" in (await client.get("/docs-assets/redoc.standalone.js")).text
    assert "/items/{key}" in (await client.get("/openapi.json")).json()["paths"]


async def test_readyz_names_what_failed(node: NodeClient, monkeypatch: pytest.MonkeyPatch) -> None:
    node_, client = node

    def broken() -> None:
        raise ConnectionRefusedError("connection refused")

    monkeypatch.setattr(node_.items.store, "ping", broken)
    response = await client.get("/readyz")
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "not_ready"
    assert error["message"] == "not ready: database failed"
    assert error["checks"] == {"database": "failed", "redis": "skipped", "queue": "skipped"}
    assert "refused" not in response.text  # exception text stays in the log


async def test_a_redis_that_is_down_fails_readiness_but_not_reads(sqlite_url: str) -> None:
    app = create_app(node_settings(sqlite_url, redis_url="redis://127.0.0.1:1/0"))
    async with app.router.lifespan_context(app), _client(app) as client:
        assert (await client.put("/items/k", json={"value": 1})).status_code == 201
        app.state.node.items.cache.clear()
        read = await client.get("/items/k")
        assert read.status_code == 200
        assert read.json()["cache"] == "db"
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["error"]["checks"]["redis"] == "failed"
        assert "Error" not in ready.text


async def test_metrics_count_requests_tiers_and_the_ring(node: NodeClient) -> None:
    _, client = node
    await client.put("/items/k", json={"value": 1})
    await client.get("/items/k")
    await client.get("/items/absent")
    await client.get("/nothing")
    text = (await client.get("/metrics")).text
    assert 'api_requests_total{method="PUT",route="/items/{key}",status="201"} 1.0' in text
    assert 'api_requests_total{method="GET",route="/items/{key}",status="404"} 1.0' in text
    assert 'api_requests_total{method="GET",route="unmatched",status="404"} 1.0' in text
    assert 'api_item_reads_total{tier="local"} 1.0' in text
    assert 'api_item_reads_total{tier="missing"} 1.0' in text
    assert "api_request_duration_seconds_bucket" in text
    assert "api_ring_members 1.0" in text
    assert "api_cache_entries 1.0" in text


def _client(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8080")  # type: ignore[arg-type]
