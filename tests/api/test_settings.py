"""Settings: defaults, derived node ids, and errors that name the variable."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from services.api.settings import SettingsError, load_settings, settings_table
from services.jobs import DEFAULT_DATABASE_URL
from tests.api.processes import ROOT


def test_defaults_match_the_documented_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.api_port == 8080
    assert settings.redis_url is None
    assert settings.api_discovery == "static"
    assert settings.api_max_key_bytes == 250
    assert settings.api_max_body_bytes == 1024 * 1024
    assert settings.node_id() == "127.0.0.1:8080"


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_PORT", "9001")
    monkeypatch.setenv("API_PEERS", "127.0.0.1:9001, 127.0.0.1:9002")
    monkeypatch.setenv("REDIS_URL", "rediss://cache.example:6379/0")
    monkeypatch.setenv("API_BOUNDED_LOAD_FACTOR", "1.25")
    settings = load_settings()
    assert settings.node_id() == "127.0.0.1:9001"
    assert settings.peers == ["127.0.0.1:9001", "127.0.0.1:9002"]
    assert settings.redis_url == "rediss://cache.example:6379/0"
    assert settings.api_bounded_load_factor == 1.25


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("API_PORT", "eighty", "valid integer"),
        ("API_PORT", "70000", "less than or equal to 65535"),
        ("API_PEERS", "127.0.0.1", "peer '127.0.0.1' must be host:port"),
        ("API_NODE_ID", "bad host:1", "'bad host' is not a host name"),
        ("API_BOUNDED_LOAD_FACTOR", "0.5", "must be a number >= 1"),
        ("API_DISCOVERY", "dns", "'static', 'asg' or 'target-group'"),
        ("LOG_LEVEL", "LOUD", "must be DEBUG, INFO, WARNING or ERROR"),
        ("DATABASE_URL", "oracle://db/app", "scheme 'oracle' is not supported"),
    ],
)
def test_bad_values_name_the_variable_the_value_and_why(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, reason: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(f"setting {variable} is invalid: ")
    assert reason in message
    assert message.endswith(f"(got {value!r})")


@pytest.mark.parametrize(("mode", "needs"), [("asg", "API_ASG_NAME"), ("target-group", "API_TARGET_GROUP_ARN")])
def test_aws_discovery_modes_need_their_parameter(monkeypatch: pytest.MonkeyPatch, mode: str, needs: str) -> None:
    monkeypatch.setenv("API_DISCOVERY", mode)
    with pytest.raises(SettingsError, match=needs):
        load_settings()


def test_aws_modes_default_the_node_id_to_this_machine_and_the_peer_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_DISCOVERY", "asg")
    monkeypatch.setenv("API_ASG_NAME", "web")
    monkeypatch.setenv("API_PEER_PORT", "8443")
    host, port = load_settings().node_id().rsplit(":", 1)
    assert port == "8443"
    assert host.count(".") == 3


def test_every_setting_is_documented() -> None:
    rows = settings_table()
    assert {"DATABASE_URL", "REDIS_URL", "QUEUE_URL", "API_PORT", "API_PEERS_FILE"} <= {name for name, _, _ in rows}
    assert all(description for _, _, description in rows)


def test_cli_help_lists_the_settings_and_bad_settings_exit_2() -> None:
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    shown = subprocess.run(
        [sys.executable, "-m", "services.api", "--help"], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert "API_BOUNDED_LOAD_FACTOR" in shown.stdout
    assert "/docs" in shown.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "services.api", "--check"],
        cwd=ROOT,
        env={**env, "API_PORT": "nope"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert "setting API_PORT is invalid" in bad.stderr
    assert "(got 'nope')" in bad.stderr


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("sqlite:///.local/app.db", "sqlite:///.local/app.db"),
        ("sqlite:////var/lib/app.db", "sqlite:////var/lib/app.db"),
        (
            "postgresql+psycopg://app:s3cret@db.internal:5432/items",
            "postgresql+psycopg://app:***@db.internal:5432/items",
        ),
        ("postgresql://app@db.internal/items", "postgresql://app@db.internal/items"),
        ("mysql+pymysql://root:p@ss@127.0.0.1:3306/test", "mysql+pymysql://root:***@127.0.0.1:3306/test"),
    ],
)
def test_check_prints_urls_as_written_with_the_password_masked(url: str, shown: str) -> None:
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "DATABASE_URL": url, "REDIS_URL": "rediss://:tok@h:6380/0"}
    checked = subprocess.run(
        [sys.executable, "-m", "services.api", "--check"], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert f"DATABASE_URL={shown}\n" in checked.stdout
    assert "REDIS_URL=rediss://:***@h:6380/0\n" in checked.stdout
    assert "s3cret" not in checked.stdout
    assert "tok" not in checked.stdout


def test_check_piped_to_a_reader_that_stops_early_is_not_an_error() -> None:
    read, write = os.pipe()
    os.close(read)  # like `| head -1` that has exited: every write fails with EPIPE
    try:
        checked = subprocess.run(
            [sys.executable, "-m", "services.api", "--check"],
            cwd=ROOT,
            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    finally:
        os.close(write)
    assert (checked.returncode, checked.stderr) == (0, "")
