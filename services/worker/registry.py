"""The job-type registry: handlers register by name with a decorator; the API asks what exists.

A handler is ``func(payload, ctx) -> result``: ``payload`` is an instance of its pydantic
model when it declares one (else the raw dict), ``ctx`` a :class:`~services.worker.context.JobContext`,
and ``result`` any JSON value, stored as the job's result. Raising
:class:`PermanentJobError` fails the job at once; any other exception is retried with backoff.

Cheap to import (pydantic only), so the API can call :func:`job_types` and
:func:`validate_payload` to answer 422 before accepting a job::

    from services.worker.registry import job_types, validate_payload

Extra handler modules (an extension point) are imported by :func:`load_handlers`; the worker
passes its ``JOB_HANDLER_MODULES`` setting there, and so should the API if it uses any.
"""

from __future__ import annotations

import importlib
import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeVar

import pydantic

if TYPE_CHECKING:
    from services.worker.context import JobContext

Handler = Callable[[Any, "JobContext"], Any]
F = TypeVar("F", bound=Handler)

BUILTIN_MODULES: Final = ("services.worker.handlers",)
"""Modules that register the shipped handlers: echo, sleep, cpu, fail, precompute."""


class UnknownJobTypeError(ValueError):
    """No handler is registered under this job type."""


class InvalidPayloadError(ValueError):
    """The payload does not fit the handler's model; the message names the field."""


class PermanentJobError(Exception):
    """A failure that retrying cannot fix: the job fails at once and its message is dead-lettered."""


@dataclass(frozen=True, slots=True)
class JobType:
    """A registered handler: its name, function, payload model (None: any JSON object) and summary."""

    name: str
    func: Handler
    payload_model: type[pydantic.BaseModel] | None
    description: str


_registry: dict[str, JobType] = {}
_loaded: set[str] = set()
_lock = threading.RLock()


def handler(name: str, *, payload: type[pydantic.BaseModel] | None = None) -> Callable[[F], F]:
    """Register the decorated function as the handler of job type ``name``.

    Raises ``ValueError`` if the name is already taken by another function.
    """

    def register(func: F) -> F:
        with _lock:
            existing = _registry.get(name)
            if existing is not None and existing.func is not func:
                raise ValueError(f"job type {name!r} is already registered by {existing.func.__module__}")
            summary = (func.__doc__ or "").strip().splitlines()
            _registry[name] = JobType(name, func, payload, summary[0] if summary else "")
        return func

    return register


def load_handlers(modules: Iterable[str] = ()) -> None:
    """Import the built-in handler modules and ``modules`` (each once), registering their handlers.

    Raises ``ImportError`` naming a module that cannot be imported.
    """
    with _lock:
        for module in (*BUILTIN_MODULES, *modules):
            if module in _loaded:
                continue
            try:
                importlib.import_module(module)
            except ImportError as error:
                raise ImportError(f"job handler module {module!r} cannot be imported: {error}") from error
            _loaded.add(module)


def job_types() -> frozenset[str]:
    """The names of every registered job type (the built-ins and any loaded modules)."""
    load_handlers()
    with _lock:
        return frozenset(_registry)


def get_job_type(name: str) -> JobType:
    """The registration of job type ``name``; raises :class:`UnknownJobTypeError` naming the known ones."""
    load_handlers()
    with _lock:
        found = _registry.get(name)
        if found is None:
            known = ", ".join(sorted(_registry))
            raise UnknownJobTypeError(f"unknown job type {name!r}; registered types: {known}")
        return found


def validate_payload(type: str, payload: Any) -> Any:  # noqa: A002
    """Check ``payload`` against the handler of ``type``; return what the handler will receive.

    Raises :class:`UnknownJobTypeError` for an unregistered type and
    :class:`InvalidPayloadError` (a ``ValueError``) naming each offending field.
    """
    job_type = get_job_type(type)
    if not isinstance(payload, dict):
        raise InvalidPayloadError(f"payload of job type {type!r} must be a JSON object")
    if job_type.payload_model is None:
        return payload
    try:
        # Strict JSON, as the documented JSON Schema is: lax mode would take false for a number
        # and "5" for an integer; JSON mode still reads dates, UUIDs and enums from their strings.
        # A number with no fraction (1597.0) is an integer, as in JSON Schema.
        encoded = json.dumps(_integral_floats_as_ints(payload), allow_nan=False)
    except (TypeError, ValueError) as error:
        raise InvalidPayloadError(f"payload of job type {type!r} is not JSON: {error}") from None
    try:
        return job_type.payload_model.model_validate_json(encoded, strict=True)
    except pydantic.ValidationError as error:
        problems = "; ".join(_describe(item) for item in error.errors())
        raise InvalidPayloadError(f"invalid payload for job type {type!r}: {problems}") from None


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
