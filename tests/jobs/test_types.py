"""The job-type contract: declared types, payload validation, and a cheap import for the API."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pydantic
import pytest

from services.jobs.demo import DEMO, DEMO_JOB_TYPES
from services.jobs.precompute import CORE
from services.jobs.types import (
    InvalidPayloadError,
    UnknownJobTypeError,
    declare,
    get_job_type,
    job_types,
    load_job_types,
    validate_payload,
)
from tests.jobs.conftest import CONTRACT_SAMPLE

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = {"echo", "sleep", "cpu", "fail", "precompute"}


def test_the_shipped_types_are_declared_in_their_groups() -> None:
    assert job_types() >= SHIPPED
    assert {job_type.name for job_type in DEMO_JOB_TYPES} == {"echo", "sleep", "cpu", "fail"}
    assert {job_type.group for job_type in DEMO_JOB_TYPES} == {DEMO}
    assert get_job_type("precompute").group == CORE
    assert get_job_type("echo").description == "Return the payload unchanged."


def test_listing_job_types_imports_neither_service_nor_anything_heavy() -> None:
    code = (
        "import sys; from services.jobs.types import job_types; names = job_types(); "
        "heavy = ('boto3', 'botocore', 'sqlalchemy', 'redis', 'prometheus_client'); "
        "heavy = sorted(m for m in heavy if m in sys.modules); "
        "services = sorted(m for m in sys.modules if m.startswith(('services.api', 'services.worker'))); "
        "print(sorted(names), heavy, services)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == f"{sorted(SHIPPED)} [] []"


@pytest.mark.parametrize(
    ("job_type", "payload", "message"),
    [
        ("sleep", {}, "field 'seconds': Field required"),
        ("sleep", {"seconds": 61}, "field 'seconds': Input should be less than or equal to 60"),
        ("sleep", {"seconds": 1, "extra": 2}, "field 'extra': Extra inputs are not permitted"),
        ("cpu", {"rounds": "many"}, "field 'rounds'"),
        ("precompute", {"top": 0}, "field 'top'"),
        ("echo", ["not", "an", "object"], "must be a JSON object"),
    ],
)
def test_invalid_payloads_are_refused_naming_the_field(job_type: str, payload: object, message: str) -> None:
    with pytest.raises(InvalidPayloadError, match=message):
        validate_payload(job_type, payload)


def test_valid_payloads_come_back_as_the_types_model() -> None:
    assert validate_payload("sleep", {"seconds": 1.5}).seconds == 1.5
    assert validate_payload("echo", {"anything": [1]}) == {"anything": [1]}
    assert validate_payload("precompute", {}).top == 1000


def test_an_unknown_type_is_refused_listing_the_known_ones() -> None:
    with pytest.raises(UnknownJobTypeError, match=r"unknown job type 'nope'; declared types: .*echo"):
        validate_payload("nope", {})
    assert isinstance(UnknownJobTypeError("x"), ValueError)


@pytest.mark.usefixtures("scratch_job_types")
def test_a_name_is_declared_once() -> None:
    class Other(pydantic.BaseModel):
        x: int

    with pytest.raises(ValueError, match="'echo' is already declared"):
        declare("echo", payload=Other, description="Clash.")
    assert declare("echo", group=DEMO, description="Return the payload unchanged.") is get_job_type("echo")
    with pytest.raises(ValueError, match="non-empty"):
        declare(" spaced", description="Bad name.")


@pytest.mark.usefixtures("scratch_job_types")
def test_a_contract_module_declares_more_types() -> None:
    assert "test-unbound" not in job_types()
    load_job_types([CONTRACT_SAMPLE])
    assert get_job_type("test-unbound").group == "extension"
    assert validate_payload("test-unbound", {"size": 3}).size == 3


def test_a_contract_module_that_cannot_be_imported_is_named() -> None:
    with pytest.raises(ImportError, match=r"job type module 'no\.such\.module' cannot be imported"):
        load_job_types(["no.such.module"])
