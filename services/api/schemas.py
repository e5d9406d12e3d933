"""The JSON shapes of the API, for validation and for the OpenAPI document at ``/openapi.json``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ErrorDetail(BaseModel):
    """What went wrong: a stable code and a message naming the problem."""

    model_config = ConfigDict(extra="allow")

    code: str
    message: str


class ErrorOut(BaseModel):
    """Every error response: ``{"error": {"code", "message"}}``."""

    error: ErrorDetail


class ItemIn(BaseModel):
    """The body of ``PUT /items/{key}``: any JSON value (NaN and Infinity are not JSON)."""

    model_config = ConfigDict(extra="forbid")

    value: Any = Field(..., description="any JSON value, null included")


class ItemWritten(BaseModel):
    """An item as written: which node owns it and which served the request."""

    key: str
    value: Any
    version: int = Field(..., description="increases with every write of the key")
    owner: str = Field(..., description="the key's owner on the serving node's ring (host:port)")
    served_by: str = Field(..., description="the node that served the request (host:port)")


class ItemOut(ItemWritten):
    """An item as read, and which tier answered."""

    cache: Literal["local", "redis", "db"] = Field(..., description="the tier that answered")


class JobIn(BaseModel):
    """The body of ``POST /jobs``: a registered job type and its payload."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(..., min_length=1, max_length=64, description="a registered job type, e.g. echo")
    payload: dict[str, Any] = Field(default_factory=dict, description="the handler's input, a JSON object")


class JobAccepted(BaseModel):
    """A job accepted for processing; poll ``GET /jobs/{id}``."""

    id: str
    status: str


class JobOut(BaseModel):
    """A job's state and outcome."""

    id: str
    type: str
    payload: dict[str, Any]
    status: Literal["queued", "running", "retrying", "succeeded", "failed"]
    attempts: int
    result: Any
    error: str | None
    idempotency_key: str | None
    created_at: str
    updated_at: str
    started_at: str | None
    finished_at: str | None
    run_ms: int | None


class HealthOut(BaseModel):
    """Liveness: the process answers."""

    status: Literal["ok"]
    node: str


class ReadyOut(BaseModel):
    """Readiness: each dependency is ``ok`` or ``skipped`` (not configured); a 503 names the ``failed`` ones."""

    status: Literal["ready"]
    node: str
    checks: dict[str, str]


class RingKey(BaseModel):
    """Where one key goes: its owner and the nodes after it clockwise."""

    key: str
    owner: str
    preference: list[str]


class RingOut(BaseModel):
    """This node's view of the ring. ``members_digest`` is equal on nodes that agree."""

    node: str
    members: list[str]
    members_digest: str
    vnodes: int
    version: int = Field(..., description="counts this node's ring changes; local to the node")
    discovery: str
    last_error: str | None
    suspects: list[str]
    bounded_load_factor: float | None
    key: RingKey | None = None


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": description}
    for status, description in {
        400: "malformed JSON",
        404: "not found",
        409: "conflict",
        413: "body too large",
        415: "the body is not JSON",
        422: "invalid key, body or parameter",
        503: "a dependency is unavailable",
    }.items()
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` entries of these error statuses."""
    return {status: ERRORS[status] for status in statuses}
