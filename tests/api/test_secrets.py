"""The API's settings completed from Secrets Manager (moto); the parsing itself is tested with
services/secrets.py in tests/worker/test_secrets.py."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import sqlalchemy as sa

from services.api.aws_secrets import SecretError, resolve_secrets
from services.api.settings import load_settings
from services.items.redis_settings import RedisSettings, redis_auth_token
from services.settings import read_settings


@pytest.fixture
def manager(moto_server: str) -> Iterator[Any]:
    client = boto3.client("secretsmanager", endpoint_url=moto_server, region_name="us-east-1")
    yield client
    client.close()


def _secret(manager: Any, value: str) -> str:
    return str(manager.create_secret(Name=f"s-{secrets.token_hex(4)}", SecretString=value)["ARN"])


def test_nothing_named_nothing_read() -> None:
    settings = load_settings()
    assert resolve_secrets(settings) is settings


def test_the_database_secret_fills_in_the_url(manager: Any) -> None:
    arn = _secret(
        manager,
        json.dumps({"username": "app", "password": "p@ss:w/rd", "host": "db.internal", "port": 5432, "dbname": "main"}),
    )
    settings = load_settings(database_url="postgresql://", database_secret_arn=arn)
    url = sa.make_url(resolve_secrets(settings, client=manager).database_url)
    assert (url.username, url.password, url.host, url.port, url.database) == (
        "app",
        "p@ss:w/rd",
        "db.internal",
        5432,
        "main",
    )
    kept = load_settings(database_url="postgresql://old@aurora.example:5432/app", database_secret_arn=arn)
    url = sa.make_url(resolve_secrets(kept, client=manager).database_url)
    assert (url.username, url.password, url.host, url.database) == ("app", "p@ss:w/rd", "aurora.example", "app")


@pytest.mark.parametrize("value", ["tok-123", '{"token": "tok-123"}'])
def test_the_redis_token_is_read_plain_or_from_json(manager: Any, value: str) -> None:
    arn = _secret(manager, value)
    assert redis_auth_token(arn, client=manager) == "tok-123"
    settings = resolve_secrets(load_settings(redis_auth_secret_arn=arn), client=manager)
    assert settings.redis_auth_token is not None
    assert settings.redis_auth_token.get_secret_value() == "tok-123"
    worker_way = read_settings(RedisSettings, redis_auth_secret_arn=arn)
    assert worker_way.auth_token(client=manager) == "tok-123"


def test_a_missing_secret_names_the_arn(manager: Any) -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf"
    with pytest.raises(SecretError, match=r"DATABASE_SECRET_ARN: .*missing-AbCdEf"):
        resolve_secrets(load_settings(database_secret_arn=arn), client=manager)
    with pytest.raises(SecretError, match=r"REDIS_AUTH_SECRET_ARN: .*missing-AbCdEf"):
        resolve_secrets(load_settings(redis_auth_secret_arn=arn), client=manager)
    bad = _secret(manager, "not json")
    with pytest.raises(SecretError, match="RDS format"):
        resolve_secrets(load_settings(database_secret_arn=bad), client=manager)
