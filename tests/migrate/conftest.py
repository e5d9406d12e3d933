"""Fixtures of the migration tests: the master and app secrets in moto, and app roles dropped afterwards."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import sqlalchemy as sa


@pytest.fixture
def manager(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A Secrets Manager client on the moto server, which the code under test reaches too (AWS_ENDPOINT_URL)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    client = boto3.client("secretsmanager", endpoint_url=moto_server, region_name="us-east-1")
    yield client
    client.close()


def put_secret(manager: Any, fields: dict[str, Any]) -> str:
    """A new secret holding ``fields`` as JSON (the RDS format); its ARN."""
    return str(manager.create_secret(Name=f"db-{secrets.token_hex(4)}", SecretString=json.dumps(fields))["ARN"])


def master_secret(manager: Any, url: str) -> str:
    """A master secret with the user (and empty password) of the admin ``url``."""
    parsed = sa.make_url(url)
    return put_secret(manager, {"username": parsed.username, "password": parsed.password or ""})


def drop_role(admin_url: str, name: str) -> None:
    """Drop role ``name`` and its rights: the scratch database's own and the server-wide account."""
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                exists = conn.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": name}).first()
                if exists:
                    conn.execute(
                        sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :n"),
                        {"n": name},
                    )
                    conn.exec_driver_sql(f'DROP OWNED BY "{name}"')
                    conn.exec_driver_sql(f'DROP ROLE "{name}"')
            else:
                conn.exec_driver_sql(f"DROP USER IF EXISTS '{name}'@'%%'")
    finally:
        engine.dispose()


@pytest.fixture
def role_name(request: pytest.FixtureRequest) -> Iterator[str]:
    """A unique app role name; the role is dropped after the test from the database fixture in use."""
    name = f"app_{secrets.token_hex(5)}"
    yield name
    for fixture in ("postgres_url", "mysql_url"):
        if fixture in request.fixturenames:
            drop_role(request.getfixturevalue(fixture), name)
