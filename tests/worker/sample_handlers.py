"""Job types and their handlers used only by the tests; worker processes import them through
JOB_HANDLER_MODULES (the types are declared here too, so the worker knows them).

``test-effect`` writes its side effect through the context's staged effects into a table
whose primary key is the job id: a duplicate effect could never commit, and a lost one
would show as a missing row.
"""

from __future__ import annotations

import threading
from typing import Any

import pydantic
import sqlalchemy as sa

from services.jobs.context import JobContext
from services.jobs.types import declare
from services.worker.registry import handler

effects = sa.Table(
    "test_effects",
    sa.MetaData(),
    sa.Column("job_id", sa.String(36), primary_key=True),
    sa.Column("attempt", sa.Integer, nullable=False),
)

BROKEN = threading.Event()
"""While set, ``test-flaky`` fails."""

STARTED: list[str] = []
"""The ids of the jobs ``test-effect`` and ``test-gated`` started, in this process, once per start
(a claimed job may not have started yet)."""

GATE = threading.Event()
"""``test-gated`` runs until this is set (tests use the ``gate`` fixture, which sets it at the end)."""


class EffectPayload(pydantic.BaseModel):
    seconds: float = pydantic.Field(default=0, ge=0, le=60)


EFFECT = declare("test-effect", payload=EffectPayload, description="Sleep, then write one effect row.")
FLAKY = declare("test-flaky", description="Fail while BROKEN is set.")
BAD_RESULT = declare("test-bad-result", description="Return something that is not JSON.")
GATED = declare("test-gated", description="Run until GATE opens, then write one effect row.")


@handler(EFFECT)
def effect(payload: EffectPayload, ctx: JobContext) -> dict[str, Any]:
    """Sleep, then write one effect row in the completion's transaction."""
    STARTED.append(ctx.job_id)
    ctx.sleep(payload.seconds)
    job_id, attempt = ctx.job_id, ctx.attempt
    ctx.stage(lambda conn: conn.execute(sa.insert(effects).values(job_id=job_id, attempt=attempt)))
    return {"attempt": attempt}


@handler(FLAKY)
def flaky(payload: dict[str, Any], ctx: JobContext) -> str:
    """Fail while BROKEN is set."""
    if BROKEN.is_set():
        raise RuntimeError("still broken")
    return "fixed"


@handler(BAD_RESULT)
def bad_result(payload: dict[str, Any], ctx: JobContext) -> object:
    """Return something that is not JSON."""
    return {"when": object()}


@handler(GATED)
def gated(payload: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """Run until GATE opens (stopping early if the worker cancels it), then write one effect row."""
    STARTED.append(ctx.job_id)
    while not GATE.wait(0.05):
        ctx.check_cancelled()
    job_id, attempt = ctx.job_id, ctx.attempt
    ctx.stage(lambda conn: conn.execute(sa.insert(effects).values(job_id=job_id, attempt=attempt)))
    return {"attempt": attempt}
