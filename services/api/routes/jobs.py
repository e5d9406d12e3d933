"""``POST /jobs`` (202, done later by the worker fleet) and ``GET /jobs/{id}``."""

from __future__ import annotations

from typing import Annotated, Any

import pydantic
from anyio import to_thread
from fastapi import FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import JSONResponse

from services.api.errors import NotFoundError
from services.api.node import Node
from services.api.schemas import JobAccepted, JobIn, JobOut, errors
from services.jobs.types import declared


def register(app: FastAPI) -> None:
    """Add the job routes to ``app``."""
    app.add_api_route(
        "/jobs",
        submit_job,
        methods=["POST"],
        status_code=202,
        response_model=JobAccepted,
        responses=errors(400, 409, 413, 415, 422, 503),
        summary="Accept a job; the worker fleet runs it",
        tags=["jobs"],
        openapi_extra={
            "requestBody": {"required": True, "content": {"application/json": {"schema": job_request_schema()}}}
        },
    )
    app.add_api_route(
        "/jobs/{job_id}",
        get_job,
        methods=["GET"],
        response_model=JobOut,
        responses=errors(404, 503),
        summary="A job's status and result",
        tags=["jobs"],
    )


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


async def submit_job(
    request: Request,
    idempotency_key: Annotated[
        str | None,
        Header(alias="Idempotency-Key", description="repeat a submission safely: the same key returns the same job"),
    ] = None,
) -> JSONResponse:
    """Store the job and queue it; answer at once with its id (``Location`` points at it)."""
    node: Node = request.app.state.node
    try:
        body = JobIn.model_validate_json(await request.body())
    except pydantic.ValidationError as error:
        raise RequestValidationError(error.errors()) from None
    job = await to_thread.run_sync(node.jobs.submit, body.type, body.payload, idempotency_key)
    return JSONResponse(
        {"id": job.id, "status": job.status.value}, status_code=202, headers={"location": f"/jobs/{job.id}"}
    )


async def get_job(job_id: str, request: Request) -> JSONResponse:
    """The job's status, attempts, and its result or error."""
    node: Node = request.app.state.node
    job = await to_thread.run_sync(node.jobs.get, job_id)
    if job is None:
        raise NotFoundError(f"job {job_id!r} not found")
    return JSONResponse(job.to_dict())
