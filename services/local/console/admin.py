"""The ``/_cluster`` actions the console offers, beyond adding and removing nodes and workers.

``GET /_cluster/ring?key=``, ``POST /_cluster/workers/{id}/kill``, ``POST /_cluster/jobs``,
``GET|PUT|DELETE /_cluster/load`` and ``POST /_cluster/redis/{stop,start}``. Each refuses what
cannot be done with a 4xx naming the field or the reason.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any, Final

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from services.api.errors import error_response
from services.items.keys import InvalidKeyError, validate_key
from services.jobs.types import job_types
from services.local.console.load import LoadSpec, auth_headers
from services.local.console.ringview import placement
from services.routing import HashRing

if TYPE_CHECKING:
    from services.local.cluster import LocalSystem

MAX_JOBS: Final = 500


async def _json_object(request: Request) -> dict[str, Any] | Response:
    body = await request.body()
    if not body:
        return {}
    try:
        value = json.loads(body)
    except ValueError as error:
        return error_response(400, "bad_request", f"the body is not JSON: {error}")
    if not isinstance(value, dict):
        return error_response(422, "invalid_body", "the body must be a JSON object")
    return value


def _number(body: dict[str, Any], name: str, default: float, kind: type[int] | type[float]) -> float | str:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or (kind is int and not isinstance(value, int)):
        return f"{name} must be {'an integer' if kind is int else 'a number'} (got {value!r})"
    return value


class ClusterActions:
    """The actions of one local system, as routes."""

    def __init__(self, system: LocalSystem) -> None:
        self.system = system

    async def ring(self, request: Request) -> Response:
        system = self.system
        members = [b.address for b in system.pool.backends.values()]
        names = {b.address: b.id for b in system.pool.backends.values()}
        hash_ring = HashRing(members, vnodes=system.console.collector.vnodes)
        state: dict[str, Any] = {
            "members": sorted(names[m] for m in members),
            "shares": {names[m]: round(s, 6) for m, s in hash_ring.shares().items()},
        }
        key = request.query_params.get("key")
        if key is not None:
            try:
                validate_key(key)
            except InvalidKeyError as error:
                return error_response(422, "invalid_key", str(error))
            state["key"] = placement(hash_ring, key, names)
        return JSONResponse(state)

    async def kill_worker(self, request: Request) -> Response:
        system = self.system
        worker_id = request.path_params["id"]
        try:
            pid = await system.kill_worker(worker_id)
        except KeyError:
            return error_response(404, "not_found", f"no worker {worker_id!r}")
        except ValueError as error:
            return error_response(409, "conflict", str(error))
        return JSONResponse({"id": worker_id, "pid": pid, "signal": "SIGKILL"}, status_code=202)

    async def submit_jobs(self, request: Request) -> Response:
        system = self.system
        body = await _json_object(request)
        if isinstance(body, Response):
            return body
        job_type = body.get("type")
        if job_type not in job_types():
            return error_response(
                422, "invalid_type", f"type must be one of {', '.join(sorted(job_types()))} (got {job_type!r})"
            )
        count = _number(body, "count", 1, int)
        if isinstance(count, str) or not 1 <= count <= MAX_JOBS:
            reason = count if isinstance(count, str) else f"count must be 1..{MAX_JOBS} (got {count})"
            return error_response(422, "invalid_count", reason)
        payload = body.get("payload", {})
        if not isinstance(payload, dict):
            return error_response(422, "invalid_payload", "payload must be a JSON object")
        headers = auth_headers(system.token_source)
        async with httpx.AsyncClient(base_url=system.url, timeout=10) as client:
            answers = await asyncio.gather(
                *(
                    client.post("/jobs", json={"type": job_type, "payload": payload}, headers=headers)
                    for _ in range(int(count))
                ),
                return_exceptions=True,
            )
        accepted = [a.json()["id"] for a in answers if isinstance(a, httpx.Response) and a.status_code == 202]
        refused = [a for a in answers if not (isinstance(a, httpx.Response) and a.status_code == 202)]
        if not accepted:
            first = refused[0]
            reason = first.text[:300] if isinstance(first, httpx.Response) else f"{type(first).__name__}: {first}"
            status = first.status_code if isinstance(first, httpx.Response) else 502
            return error_response(status if 400 <= status < 600 else 502, "not_submitted", f"no job accepted: {reason}")
        return JSONResponse({"type": job_type, "accepted": accepted, "refused": len(refused)}, status_code=202)

    async def load_state(self, _request: Request) -> Response:
        system = self.system
        return JSONResponse(system.console_load.state())

    async def start_load(self, request: Request) -> Response:
        system = self.system
        body = await _json_object(request)
        if isinstance(body, Response):
            return body
        rate = _number(body, "rate", 50, int)
        zipf_s = _number(body, "zipf_s", 1.1, float)
        keys = _number(body, "keys", 1000, int)
        for value in (rate, zipf_s, keys):
            if isinstance(value, str):
                return error_response(422, "invalid_load", value)
        spec = LoadSpec(rate=int(rate), zipf_s=float(zipf_s), keys=int(keys))
        problem = spec.problem()
        if problem:
            return error_response(422, "invalid_load", problem)
        await system.console_load.start(spec)
        return JSONResponse(system.console_load.state())

    async def stop_load(self, _request: Request) -> Response:
        system = self.system
        await system.console_load.stop()
        return Response(status_code=204)

    async def stop_redis(self, _request: Request) -> Response:
        system = self.system
        try:
            await system.stop_redis()
        except ValueError as error:
            return error_response(409, "conflict", str(error))
        return JSONResponse(system.redis_state())

    async def start_redis(self, _request: Request) -> Response:
        system = self.system
        try:
            await system.start_redis()
        except ValueError as error:
            return error_response(409, "conflict", str(error))
        return JSONResponse(system.redis_state())

    def routes(self) -> list[BaseRoute]:
        """The routes, to mount under the balancer's ``/_cluster``."""
        return [
            Route("/_cluster/ring", self.ring, methods=["GET"]),
            Route("/_cluster/workers/{id}/kill", self.kill_worker, methods=["POST"]),
            Route("/_cluster/jobs", self.submit_jobs, methods=["POST"]),
            Route("/_cluster/load", self.load_state, methods=["GET"]),
            Route("/_cluster/load", self.start_load, methods=["PUT"]),
            Route("/_cluster/load", self.stop_load, methods=["DELETE"]),
            Route("/_cluster/redis/stop", self.stop_redis, methods=["POST"]),
            Route("/_cluster/redis/start", self.start_redis, methods=["POST"]),
        ]
