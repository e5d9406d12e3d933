"""The worker's handler registry: the function that runs each declared job type.

Job types are declared in the contract (:mod:`services.jobs.types`: name, payload model,
description); the worker binds one handler to each with :func:`handler`::

    from services.jobs.demo import ECHO
    from services.worker.registry import handler

    @handler(ECHO)
    def echo(payload: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
        return payload

A handler is ``func(payload, ctx) -> result`` (see :mod:`services.jobs.context`): ``payload``
is an instance of the type's payload model (else the raw dict), ``ctx`` a
:class:`~services.jobs.context.JobContext`, ``result`` any JSON value.

The shipped handlers are in :mod:`services.worker.handlers`. Extension point: modules named
in ``JOB_HANDLER_MODULES`` are imported by :func:`load_handlers` and bind handlers to the
types a contract module (``JOB_TYPE_MODULES``) declared. Before it consumes, the worker
checks with :func:`check_every_type_bound` that every declared type has a handler, and
refuses to start otherwise.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterable
from typing import Any, Final, TypeVar

from services.jobs.context import JobContext
from services.jobs.types import JobType, declared, get_job_type

Handler = Callable[[Any, JobContext], Any]
F = TypeVar("F", bound=Handler)

BUILTIN_MODULES: Final = ("services.worker.handlers",)
"""Modules that bind the shipped handlers: echo, sleep, cpu, fail, precompute (and its steps)."""


class MissingHandlerError(LookupError):
    """A declared job type has no handler in this worker; the message names it."""


_handlers: dict[str, Handler] = {}
_loaded: set[str] = set()
_lock = threading.RLock()


def handler(job_type: JobType) -> Callable[[F], F]:
    """Bind the decorated function as the handler of the declared ``job_type``.

    Raises ``ValueError`` if the type is not the declared one of its name, or already has
    another handler.
    """
    if get_job_type(job_type.name) != job_type:
        raise ValueError(f"job type {job_type.name!r} is declared differently in services.jobs.types")

    def bind(func: F) -> F:
        with _lock:
            existing = _handlers.setdefault(job_type.name, func)
        if existing is not func:
            raise ValueError(f"job type {job_type.name!r} already has a handler, from {existing.__module__}")
        return func

    return bind


def load_handlers(modules: Iterable[str] = ()) -> None:
    """Import the shipped handler modules and ``modules`` (each once), binding their handlers.

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


def handler_for(name: str) -> Handler:
    """The handler of job type ``name``.

    Raises :class:`~services.jobs.types.UnknownJobTypeError` for an undeclared type and
    :class:`MissingHandlerError` for a declared one without a handler.
    """
    with _lock:
        found = _handlers.get(name)
    if found is None:
        load_handlers()
        get_job_type(name)
        with _lock:
            found = _handlers.get(name)
    if found is None:
        raise MissingHandlerError(f"job type {name!r} has no handler in this worker")
    return found


def check_every_type_bound(job_types: Iterable[JobType] | None = None) -> None:
    """Raise :class:`MissingHandlerError` naming each of ``job_types`` (default: every declared
    type) that has no handler."""
    load_handlers()
    wanted = declared() if job_types is None else tuple(job_types)
    with _lock:
        missing = sorted(job_type.name for job_type in wanted if job_type.name not in _handlers)
    if missing:
        raise MissingHandlerError(
            f"declared job types without a handler: {', '.join(missing)}; "
            "bind each with @handler in a module named in JOB_HANDLER_MODULES"
        )
