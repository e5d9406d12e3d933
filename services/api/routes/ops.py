"""Operational endpoints: liveness, readiness, the ring, and Prometheus metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from anyio import to_thread
from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import JSONResponse, Response

from services.api.errors import error_response
from services.api.metrics import exposition
from services.api.routes.deps import CurrentNode
from services.api.schemas import HealthOut, ReadyOut, RingOut, errors
from services.items.keys import key_pattern, validate_key

CHECK_TIMEOUT_SECONDS = 2.0

_log = structlog.get_logger(__name__)


def router(*, max_key_bytes: int) -> APIRouter:
    """The operational routes (not hot: a router and dependencies, FastAPI's ordinary idioms)."""
    ops = APIRouter(tags=["operations"])
    key = {
        "name": "key",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "pattern": key_pattern(max_key_bytes), "maxLength": max_key_bytes},
        "description": "also show where this key goes: its owner and the nodes after it",
    }
    ops.add_api_route("/healthz", healthz, response_model=HealthOut, summary="Liveness (the ALB health check)")
    ops.add_api_route(
        "/readyz", readyz, response_model=ReadyOut, responses=errors(503), summary="Readiness of the dependencies"
    )
    ops.add_api_route(
        "/ring",
        ring,
        response_model=RingOut,
        responses=errors(422),
        summary="This node's view of the hash ring",
        # The key is checked by validate_key (its message names the offending character); the
        # document states the same rule as a pattern, which pydantic's regex engine cannot run.
        openapi_extra={"parameters": [key]},
    )
    ops.add_api_route(
        "/metrics",
        metrics,
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format"}},
        summary="Prometheus metrics",
    )
    return ops


async def healthz(node: CurrentNode) -> JSONResponse:
    """The process is up and serving; says nothing about its dependencies."""
    return JSONResponse({"status": "ok", "node": node.id})


async def readyz(node: CurrentNode) -> Response:
    """Each dependency by name: ``ok``, ``failed`` or ``skipped`` (not configured); 503 if any failed.

    The answer carries no exception text (it is served to anyone who can reach the node);
    the reason of a failure goes to the node's log.
    """
    checks: dict[str, Callable[[], Awaitable[Any]] | None] = {
        "database": lambda: to_thread.run_sync(node.items.store.ping),
        "redis": node.redis.ping if node.redis is not None else None,
        "queue": (lambda: to_thread.run_sync(node.jobs.queue_reachable)) if node.jobs.enabled else None,
    }
    results = await asyncio.gather(*(_check(name, check) for name, check in checks.items()))
    outcome = dict(zip(checks, results, strict=True))
    failed = [name for name, result in outcome.items() if result == "failed"]
    if failed:
        return error_response(503, "not_ready", f"not ready: {', '.join(failed)} failed", checks=outcome)
    return JSONResponse({"status": "ready", "node": node.id, "checks": outcome})


async def _check(name: str, check: Callable[[], Awaitable[Any]] | None) -> str:
    if check is None:
        return "skipped"
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        _log.warning("readiness check failed", dependency=name, reason=f"no answer within {CHECK_TIMEOUT_SECONDS:g} s")
        return "failed"
    except Exception as error:
        _log.warning("readiness check failed", dependency=name, reason=f"{type(error).__name__}: {error}")
        return "failed"
    return "ok"


async def ring(node: CurrentNode, request: Request) -> JSONResponse:
    """Members (sorted), this node's id, vnodes, the ring version and, with ``?key=``, a key's placement."""
    state = node.ring_state()
    key = request.query_params.get("key")
    if key is not None:
        validate_key(key, node.settings.api_max_key_bytes)
        ring = node.membership.ring
        preference = ring.nodes_for(key, len(ring)) if len(ring) else [node.id]
        state["key"] = {"key": key, "owner": preference[0], "preference": preference}
    return JSONResponse(state)


async def metrics(node: CurrentNode) -> Response:
    """Requests by route and status, latency histograms, cache reads by tier, forwards, ring size."""
    return Response(exposition(node.metrics.registry), media_type=CONTENT_TYPE_LATEST)
