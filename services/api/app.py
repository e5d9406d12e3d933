"""The FastAPI application of one node: routes, error mapping, limits and metrics.

``create_app(settings)`` builds it; the node itself (database, Redis, peers) starts in the
app's lifespan, so the app can be served by uvicorn or driven in-process by tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.api.errors import install_error_handlers
from services.api.limits import BodyLimitMiddleware
from services.api.metrics import Metrics, MetricsMiddleware
from services.api.node import Edges, Node
from services.api.routes import docs, items, jobs, ops
from services.api.settings import ApiSettings
from services.jobs.types import load_job_types

DESCRIPTION = """\
Every web node runs this service. A request for an item goes to the key's owner on the
consistent-hash ring (forwarded once if another node got it), which serves it from its
local cache, Redis or the database. Jobs are accepted here and run by the worker fleet.
Errors are `{"error": {"code", "message"}}`.
"""


def create_app(settings: ApiSettings, *, edges: Edges | None = None) -> FastAPI:
    """The app of one node with ``settings``; ``edges`` replaces network dependencies in tests."""
    metrics = Metrics()
    load_job_types(settings.type_modules)  # the job types the API documents and accepts

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        node = await Node.start(settings, metrics, edges)
        app.state.node = node
        try:
            yield
        finally:
            await node.stop()

    app = FastAPI(
        title="scaled-reference API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        strict_content_type=False,  # a JSON body without a Content-Type is still JSON
        docs_url=None,  # served by routes.docs, without a CDN
        redoc_url=None,
    )
    install_error_handlers(app)
    items.register(app, max_key_bytes=settings.api_max_key_bytes)  # first: the hot routes match first
    app.include_router(jobs.router())
    app.include_router(ops.router(max_key_bytes=settings.api_max_key_bytes))
    docs.register(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.api_max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)  # outermost: counts every answer, 413s included
    return app
