"""The worker's handler registry: one handler per declared job type, and none missing."""

from __future__ import annotations

from typing import Any

import pytest

from services.jobs import types
from services.jobs.context import JobContext
from services.jobs.demo import ECHO
from services.jobs.types import JobType, UnknownJobTypeError, declare, declared, load_job_types
from services.worker import registry
from services.worker.registry import (
    MissingHandlerError,
    check_every_type_bound,
    handler,
    handler_for,
    load_handlers,
)
from tests.jobs.conftest import CONTRACT_SAMPLE


@pytest.fixture
def scratch_registry(scratch_job_types: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Declarations and handlers made by the test are dropped afterwards."""
    load_handlers()
    monkeypatch.setattr(registry, "_handlers", dict(registry._handlers))


def test_every_shipped_type_has_its_handler() -> None:
    check_every_type_bound()
    shipped = [job_type for job_type in declared() if job_type.group != types.EXTENSION]
    assert {job_type.name for job_type in shipped} >= {"echo", "sleep", "cpu", "fail", "precompute"}
    for job_type in shipped:
        assert handler_for(job_type.name).__module__.startswith("services.worker.handlers.")


@pytest.mark.usefixtures("scratch_registry")
def test_a_declared_type_without_a_handler_is_named() -> None:
    load_job_types([CONTRACT_SAMPLE])
    with pytest.raises(MissingHandlerError, match=r"without a handler: test-unbound; .*JOB_HANDLER_MODULES"):
        check_every_type_bound()
    with pytest.raises(MissingHandlerError, match="'test-unbound' has no handler"):
        handler_for("test-unbound")
    check_every_type_bound([ECHO])  # the types a worker is to run are checked, no others


@pytest.mark.usefixtures("scratch_registry")
def test_binding_a_type_declares_nothing_and_binds_once() -> None:
    with pytest.raises(UnknownJobTypeError, match="'never-declared'"):
        handler(JobType("never-declared", None, "Not in the contract.", "extension"))
    with pytest.raises(ValueError, match="declared differently"):
        handler(JobType("echo", None, "Another echo.", "extension"))
    with pytest.raises(ValueError, match=r"'echo' already has a handler, from services\.worker\.handlers\.demo"):

        @handler(ECHO)
        def another_echo(payload: Any, ctx: JobContext) -> None:
            """Clash."""

    mine = declare("test-mine", description="Bound here.")

    @handler(mine)
    def run_mine(payload: Any, ctx: JobContext) -> str:
        return "mine"

    assert handler_for("test-mine") is run_mine
    assert handler(mine)(run_mine) is run_mine  # binding the same function again changes nothing


def test_an_undeclared_type_has_no_handler() -> None:
    with pytest.raises(UnknownJobTypeError):
        handler_for("nope")


def test_a_handler_module_that_cannot_be_imported_is_named() -> None:
    with pytest.raises(ImportError, match=r"'no\.such\.module'"):
        load_handlers(["no.such.module"])
