"""The handler registry the worker runs from and the API validates against."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from services.worker.registry import (
    InvalidPayloadError,
    UnknownJobTypeError,
    get_job_type,
    handler,
    job_types,
    load_handlers,
    validate_payload,
)

BUILTINS = {"echo", "sleep", "cpu", "fail", "precompute"}


def test_the_shipped_handlers_are_registered() -> None:
    assert job_types() >= BUILTINS
    assert get_job_type("echo").description == "Return the payload unchanged."


def test_listing_job_types_imports_nothing_heavy() -> None:
    code = (
        "import sys; from services.worker.registry import job_types; names = job_types(); "
        "heavy = sorted(m for m in ('boto3', 'botocore', 'sqlalchemy', 'prometheus_client') if m in sys.modules); "
        "print(sorted(names), heavy)"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root).stdout
    assert out.strip() == f"{sorted(BUILTINS)} []"


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


def test_valid_payloads_come_back_as_the_handlers_model() -> None:
    assert validate_payload("sleep", {"seconds": 1.5}).seconds == 1.5
    assert validate_payload("echo", {"anything": [1]}) == {"anything": [1]}
    assert validate_payload("precompute", {}).top == 1000


def test_an_unknown_type_is_refused_listing_the_known_ones() -> None:
    with pytest.raises(UnknownJobTypeError, match=r"unknown job type 'nope'; registered types: .*echo"):
        validate_payload("nope", {})
    assert isinstance(UnknownJobTypeError("x"), ValueError)


def test_a_name_cannot_be_registered_twice() -> None:
    with pytest.raises(ValueError, match="already registered"):

        @handler("echo")
        def another_echo(payload: dict[str, object], ctx: object) -> None:
            """Clash."""


def test_a_handler_module_that_cannot_be_imported_is_named() -> None:
    with pytest.raises(ImportError, match=r"'no\.such\.module'"):
        load_handlers(["no.such.module"])
