"""``POST /jobs`` (202, done later by the worker fleet) and ``GET /jobs/{id}``.

Not on the hot path, so written with FastAPI's ordinary idioms: a router and dependencies.
"""

from __future__ import annotations

from typing import Annotated, Any

import pydantic
from anyio import to_thread
from fastapi import APIRouter, Header
from fastapi.exceptions import RequestValidationError
from starlette.responses import JSONResponse

from services.api.errors import NotFoundError
from services.api.routes.deps import CurrentNode, JsonBody
from services.api.schemas import JobAccepted, JobIn, JobOut, errors
from services.jobs.producer import MAX_KEY_CHARS
from services.jobs.types import declared

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=MAX_KEY_CHARS,
        description="repeat a submission safely: the same key returns the same job",
    ),
]


def router() -> APIRouter:
    """The job routes. Built when the app is, so the request schema lists the job types registered by then."""
    jobs = APIRouter(tags=["jobs"])
    jobs.add_api_route(
        "/jobs",
        submit_job,
        methods=["POST"],
        status_code=202,
        response_model=JobAccepted,
        responses=errors(400, 409, 413, 415, 422, 503),
        summary="Accept a job; the worker fleet runs it",
        openapi_extra={
            "requestBody": {"required": True, "content": {"application/json": {"schema": job_request_schema()}}}
        },
    )
    jobs.add_api_route(
        "/jobs/{job_id}",
        get_job,
        methods=["GET"],
        response_model=JobOut,
        responses=errors(404, 503),
        summary="A job's status and result",
    )
    return jobs


def job_request_schema() -> dict[str, Any]:
    """The body of ``POST /jobs`` as JSON Schema: one variant per declared job type, each with
    its payload schema, so the document says exactly what is accepted."""
    variants = []
    for job_type in declared():
        name, model = job_type.name, job_type.payload_model
        payload: dict[str, Any] = {"type": "object"}
        if model is not None:
            schema = model.model_json_schema()
            if "$defs" not in schema:  # nested models would need their own components
                payload = schema
        variant = {
            "type": "object",
            "description": job_type.description,
            "properties": {"type": {"const": name}, "payload": payload},
            "required": ["type", "payload"] if payload.get("required") else ["type"],
            "additionalProperties": False,
        }
        variants.append(variant)
    return {"title": "JobIn", "oneOf": variants}


async def submit_job(node: CurrentNode, body: JsonBody, idempotency_key: IdempotencyKey = None) -> JSONResponse:
    """Store the job and queue it; answer at once with its id (``Location`` points at it)."""
    try:
        job_in = JobIn.model_validate_json(body)
    except pydantic.ValidationError as error:
        raise RequestValidationError(error.errors()) from None
    job = await to_thread.run_sync(node.jobs.submit, job_in.type, job_in.payload, idempotency_key)
    return JSONResponse(
        {"id": job.id, "status": job.status.value}, status_code=202, headers={"location": f"/jobs/{job.id}"}
    )


async def get_job(job_id: str, node: CurrentNode) -> JSONResponse:
    """The job's status, attempts, and its result or error."""
    job = await to_thread.run_sync(node.jobs.get, job_id)
    if job is None:
        raise NotFoundError(f"job {job_id!r} not found")
    return JSONResponse(job.to_dict())
