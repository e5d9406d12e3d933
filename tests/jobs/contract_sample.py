"""A contract module as an extension writes one (``JOB_TYPE_MODULES``): it declares a type that
no shipped handler implements, so a worker given only this module must refuse to start."""

from __future__ import annotations

import pydantic

from services.jobs.types import declare


class SizedPayload(pydantic.BaseModel):
    size: int = pydantic.Field(ge=1)


UNBOUND = declare("test-unbound", payload=SizedPayload, description="Declared, with no handler anywhere.")
