"""The handler of ``test-unbound`` (tests/jobs/contract_sample.py), as an extension's
``JOB_HANDLER_MODULES`` module binds the types its contract module declares."""

from __future__ import annotations

from services.jobs.context import JobContext
from services.worker.registry import handler
from tests.jobs.contract_sample import UNBOUND, SizedPayload


@handler(UNBOUND)
def sized(payload: SizedPayload, ctx: JobContext) -> int:
    """Return the size."""
    return payload.size
