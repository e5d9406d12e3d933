"""Boot files: ``{{Name}}`` placeholders are filled exactly, and a mismatch names the file and the name."""

from __future__ import annotations

import json

import pytest

from stacks import boot_files
from stacks.boot_files import BootFileError, placeholders, render


def test_render_fills_every_placeholder() -> None:
    text = "A={{Alpha}}\nB={{Beta}}/{{Alpha}}\n"
    assert placeholders(text) == {"Alpha", "Beta"}
    assert render("x.env", text, {"Alpha": "1", "Beta": "2"}) == "A=1\nB=2/1\n"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"Alpha": "1"}, "x.env: no value for Beta"),
        ({"Alpha": "1", "Beta": "2", "Gamma": "3"}, "x.env: no placeholder for Gamma"),
    ],
)
def test_a_missing_or_unused_value_is_an_error_naming_it(values: dict[str, str], message: str) -> None:
    with pytest.raises(BootFileError, match=message):
        render("x.env", "A={{Alpha}} B={{Beta}}", values)


def test_a_missing_boot_file_is_named() -> None:
    with pytest.raises(BootFileError, match=r"deploy/env/nope\.env does not exist"):
        boot_files.read("env/nope.env")


@pytest.mark.parametrize("name", ["web.json", "worker.json"])
def test_agent_configurations_are_json_with_their_placeholders_filled(name: str) -> None:
    text = boot_files.read(f"cloudwatch/{name}", {"LogGroup": "group", "Namespace": "ScaledRef/dev"})
    config = json.loads(text)
    assert config["metrics"]["namespace"] == "ScaledRef/dev"
