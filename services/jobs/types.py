"""The job-type contract: each job type is declared once, by name, payload model and description.

The API accepts a job only if its type is declared and its payload fits the type's model
(422 otherwise); the worker binds one handler to each declared type
(:mod:`services.worker.registry`) and refuses to start while a declared type has none.
Cheap to import (pydantic only), so the API never loads the worker::

    from services.jobs.types import declare, job_types, validate_payload

The shipped types are declared in groups, one module each, so a group can be accepted or
refused as a unit: ``demo`` (echo, sleep, cpu, fail: :mod:`services.jobs.demo`) and ``core``
(the off-peak ``precompute`` job: :mod:`services.jobs.precompute`).

Extension point: a module that declares more types (a contract module, importing nothing
of either service) is named in ``JOB_TYPE_MODULES``, which the API and the worker both read
and pass to :func:`load_job_types`; the module with their handlers is named in the worker's
``JOB_HANDLER_MODULES``::

    # myjobs/contract.py (JOB_TYPE_MODULES=myjobs.contract on web and worker instances)
    RESIZE = declare("resize", payload=Resize, description="Resize an image.")
"""

from __future__ import annotations

import importlib
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

import pydantic

BUILTIN_MODULES: Final = ("services.jobs.precompute", "services.jobs.demo")
"""The contract modules of the shipped types, loaded by every lookup."""

EXTENSION: Final = "extension"
"""The group of a type declared without one (an extension's)."""


class UnknownJobTypeError(ValueError):
    """No job type is declared under this name."""


class InvalidPayloadError(ValueError):
    """The payload does not fit the job type's model; the message names the field."""


@dataclass(frozen=True, slots=True)
class JobType:
    """A declared job type: its name, payload model (None: any JSON object), one-line description and group."""

    name: str
    payload_model: type[pydantic.BaseModel] | None
    description: str
    group: str

    def validate(self, payload: Any) -> Any:
        """``payload`` as its handler receives it (an instance of the model, else the dict itself).

        Raises :class:`InvalidPayloadError` naming each offending field.
        """
        if not isinstance(payload, dict):
            raise InvalidPayloadError(f"payload of job type {self.name!r} must be a JSON object")
        if self.payload_model is None:
            return payload
        try:
            # Strict JSON, as the documented JSON Schema is: lax mode would take false for a number
            # and "5" for an integer; JSON mode still reads dates, UUIDs and enums from their strings.
            # A number with no fraction (1597.0) is an integer, as in JSON Schema.
            encoded = json.dumps(_integral_floats_as_ints(payload), allow_nan=False)
        except (TypeError, ValueError) as error:
            raise InvalidPayloadError(f"payload of job type {self.name!r} is not JSON: {error}") from None
        try:
            return self.payload_model.model_validate_json(encoded, strict=True)
        except pydantic.ValidationError as error:
            problems = "; ".join(_describe(item) for item in error.errors())
            raise InvalidPayloadError(f"invalid payload for job type {self.name!r}: {problems}") from None


_declared: dict[str, JobType] = {}
_loaded: set[str] = set()
_lock = threading.RLock()


def declare(
    name: str, *, description: str, payload: type[pydantic.BaseModel] | None = None, group: str = EXTENSION
) -> JobType:
    """Declare job type ``name`` and return its declaration.

    Raises ``ValueError`` if the name is empty or already declared differently.
    """
    if not name or name != name.strip():
        raise ValueError(f"job type name must be non-empty without surrounding spaces, got {name!r}")
    job_type = JobType(name, payload, description, group)
    with _lock:
        existing = _declared.setdefault(name, job_type)
    if existing != job_type:
        raise ValueError(f"job type {name!r} is already declared (group {existing.group!r})")
    return existing


def load_job_types(modules: Iterable[str] = ()) -> None:
    """Import the shipped contract modules and ``modules`` (each once), declaring their types.

    Raises ``ImportError`` naming a module that cannot be imported.
    """
    with _lock:
        for module in (*BUILTIN_MODULES, *modules):
            if module in _loaded:
                continue
            try:
                importlib.import_module(module)
            except ImportError as error:
                raise ImportError(f"job type module {module!r} cannot be imported: {error}") from error
            _loaded.add(module)


def declared() -> tuple[JobType, ...]:
    """Every declared job type (the shipped ones and those of loaded modules), sorted by name."""
    load_job_types()
    with _lock:
        return tuple(sorted(_declared.values(), key=lambda job_type: job_type.name))


def job_types() -> frozenset[str]:
    """The names of every declared job type."""
    return frozenset(job_type.name for job_type in declared())


def get_job_type(name: str) -> JobType:
    """The declaration of job type ``name``; raises :class:`UnknownJobTypeError` naming the known ones."""
    load_job_types()
    with _lock:
        found = _declared.get(name)
        if found is None:
            known = ", ".join(sorted(_declared))
            raise UnknownJobTypeError(f"unknown job type {name!r}; declared types: {known}")
        return found


def validate_payload(type: str, payload: Any) -> Any:  # noqa: A002
    """Check ``payload`` against job type ``type``; return what its handler will receive.

    Raises :class:`UnknownJobTypeError` for an undeclared type and
    :class:`InvalidPayloadError` (a ``ValueError``) naming each offending field.
    """
    return get_job_type(type).validate(payload)


def _integral_floats_as_ints(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _integral_floats_as_ints(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integral_floats_as_ints(item) for item in value]
    return value


def _describe(item: Any) -> str:
    field = ".".join(str(part) for part in item["loc"]) or "payload"
    return f"field {field!r}: {item['msg']}"
