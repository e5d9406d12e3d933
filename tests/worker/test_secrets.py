"""Secrets at start (services/secrets.py): the worker completes DATABASE_URL from the RDS secret (moto)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa

from services.secrets import SecretError, database_url_with_credentials, redis_token, resolve_database_url
from services.worker.__main__ import main
from tests.api import test_secrets as api_secrets

manager = api_secrets.manager
"""A Secrets Manager client on the moto server (the API's tests' fixture)."""
_secret = api_secrets._secret


def test_no_secret_named_leaves_the_url_alone() -> None:
    assert resolve_database_url("postgresql+psycopg://db:5433/app", None) == "postgresql+psycopg://db:5433/app"


def test_the_rds_secret_supplies_the_credentials(manager: Any) -> None:
    arn = _secret(manager, json.dumps({"username": "app_admin", "password": "p@ss:w/rd"}))
    url = sa.make_url(resolve_database_url("postgresql+psycopg://aurora.internal:5433/app", arn, client=manager))
    assert (url.username, url.password, url.host, url.port, url.database) == (
        "app_admin",
        "p@ss:w/rd",
        "aurora.internal",
        5433,
        "app",
    )


def test_host_and_database_come_from_the_secret_only_where_the_url_has_none() -> None:
    secret = json.dumps({"username": "u", "password": "p", "host": "h.internal", "port": 6543, "dbname": "d"})
    url = sa.make_url(database_url_with_credentials("postgresql://", secret))
    assert (url.host, url.port, url.database) == ("h.internal", 6543, "d")
    url = sa.make_url(database_url_with_credentials("postgresql://kept:1/mine", secret))
    assert (url.host, url.port, url.database) == ("kept", 1, "mine")


@pytest.mark.parametrize("value", ['{"username": "u"}', "not json", "[]"])
def test_a_secret_of_the_wrong_shape_is_named(manager: Any, value: str) -> None:
    arn = _secret(manager, value)
    with pytest.raises(SecretError, match="DATABASE_SECRET_ARN: database secret must be JSON with a 'password'"):
        resolve_database_url("postgresql://db/app", arn, client=manager)


@pytest.mark.parametrize("value", ["tok-1", " tok-1\n", '{"token": "tok-1"}', '{"authToken": "tok-1"}'])
def test_redis_tokens_are_read_plain_or_from_json(value: str) -> None:
    assert redis_token(value) == "tok-1"


@pytest.mark.parametrize(
    ("value", "message"), [("", "empty"), ('{"user": "x"}', "needs a 'token'"), ("{oops", "neither")]
)
def test_a_bad_redis_secret_is_explained(value: str, message: str) -> None:
    with pytest.raises(SecretError, match=message):
        redis_token(value)


def test_the_worker_stops_naming_a_secret_it_cannot_read(
    moto_server: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:absent-AbCdEf"
    monkeypatch.setenv("QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/jobs")
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://db.internal:5433/app")
    monkeypatch.setenv("DATABASE_SECRET_ARN", missing)
    assert main(["--check"]) == 1
    error = capsys.readouterr().err.splitlines()[-1]
    assert error.startswith("worker: DATABASE_SECRET_ARN: secret "), error
    assert "absent-AbCdEf" in error
