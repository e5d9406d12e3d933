"""Rotating credentials (services/secrets.py, services/db_auth.py) without a database: the stages read,
the rate bound on re-reads, the retry budget, and which errors count as a refused login."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pymysql  # type: ignore[import-untyped]
import pytest
import sqlalchemy as sa

from services.db_auth import is_authentication_error, use_rotating_credentials
from services.secrets import Credentials, RotatingCredentials, SecretError


class Secrets:
    """A stand-in for the Secrets Manager client: stage → value, and the calls made."""

    class exceptions:  # noqa: N801 - the boto3 client's attribute name
        class ResourceNotFoundException(Exception):  # noqa: N818 - the boto3 name
            pass

    def __init__(self, **stages: str) -> None:
        self.stages = stages
        self.calls: list[str] = []

    def get_secret_value(self, *, SecretId: str, VersionStage: str) -> dict[str, str]:  # noqa: N803
        self.calls.append(VersionStage)
        if VersionStage not in self.stages:
            raise self.exceptions.ResourceNotFoundException(VersionStage)
        return {"SecretString": json.dumps({"username": "app", "password": self.stages[VersionStage]})}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_current_then_pending_and_at_most_one_read_per_second() -> None:
    client, clock = Secrets(AWSCURRENT="old"), Clock()
    credentials = RotatingCredentials("arn:s", client=client, clock=clock)  # type: ignore[arg-type]
    assert credentials.current() == Credentials("app", "old")
    assert credentials.alternatives(Credentials("app", "old")) == []  # read 0 s ago: not again
    assert credentials.reads == 1
    client.stages["AWSPENDING"] = "new"
    clock.now = 1.0
    assert credentials.alternatives(Credentials("app", "old")) == [Credentials("app", "new")]
    assert credentials.reads == 2
    assert client.calls == ["AWSCURRENT", "AWSPENDING", "AWSCURRENT", "AWSPENDING"]
    credentials.worked(Credentials("app", "new"))
    assert credentials.current() == Credentials("app", "new")


def test_a_secret_without_a_current_version_is_named() -> None:
    credentials = RotatingCredentials("arn:absent", client=Secrets())  # type: ignore[arg-type]
    with pytest.raises(SecretError, match="'arn:absent' cannot be read: it has no AWSCURRENT version"):
        credentials.current()


def test_the_errors_that_mean_a_refused_login() -> None:
    assert is_authentication_error(pymysql.err.OperationalError(1045, "Access denied for user 'app'"))
    assert not is_authentication_error(pymysql.err.OperationalError(2003, "Can't connect to MySQL server"))
    assert is_authentication_error(psycopg.OperationalError('FATAL:  password authentication failed for user "app"'))
    assert not is_authentication_error(psycopg.OperationalError("connection refused"))


def test_a_login_that_keeps_failing_gives_up_after_the_retry_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    client, clock = Secrets(AWSCURRENT="wrong"), Clock()
    credentials = RotatingCredentials("arn:s", client=client, clock=clock)  # type: ignore[arg-type]
    engine = sa.create_engine("mysql+pymysql://db.invalid/app")
    attempts: list[str] = []

    def refuse(*_args: Any, **params: Any) -> None:
        attempts.append(params["passwd"] if "passwd" in params else params["password"])
        raise pymysql.err.OperationalError(1045, "Access denied")

    monkeypatch.setattr(engine.dialect, "connect", refuse)
    use_rotating_credentials(engine, credentials, retry_seconds=5, sleep=clock.sleep, clock=clock)
    with pytest.raises(sa.exc.OperationalError, match="Access denied"):
        engine.connect()
    assert 3.0 <= clock.now <= 5.0  # it stops when the next pause would overrun the budget
    assert credentials.reads <= 6  # one read per second at most
    assert set(attempts) == {"wrong"}
    engine.dispose()
