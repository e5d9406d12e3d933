"""/readyz follows a real database going away and coming back (a throw-away PostgreSQL the test stops)."""

from __future__ import annotations

import httpx
import pytest
from anyio import to_thread

from services.api.app import create_app
from tests.api.conftest import node_settings
from tests.private_postgres import private_postgres

pytestmark = pytest.mark.anyio


async def test_readyz_fails_while_the_database_is_down_and_recovers() -> None:
    with private_postgres() as server:
        app = create_app(node_settings(server.create_database("app")))
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8080") as client,
        ):
            ready = await client.get("/readyz")
            assert (ready.status_code, ready.json()["checks"]["database"]) == (200, "ok")
            await to_thread.run_sync(server.stop)
            down = await client.get("/readyz")
            assert down.status_code == 503
            assert down.json()["error"]["checks"]["database"] == "failed"
            assert down.json()["error"]["message"] == "not ready: database failed"
            assert "psycopg" not in down.text
            assert (await client.get("/healthz")).status_code == 200  # liveness stays up: the ALB keeps the node
            await to_thread.run_sync(server.start)
            again = await client.get("/readyz")
            assert (again.status_code, again.json()["checks"]["database"]) == (200, "ok")
