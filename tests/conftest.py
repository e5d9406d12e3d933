"""Shared fixtures: the real data services, each in a database of its own.

PostgreSQL, MariaDB and Redis are used where they answer on their default local ports.
On a machine without them the tests that need them skip with a one-line reason; with
CI=true they must run, so an unreachable service fails the test instead.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from typing import NoReturn

import boto3
import pytest
import redis
import sqlalchemy as sa

POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MYSQL_ADMIN_URL = os.environ.get("TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

_SERVICE_FIXTURES = {"postgres_url": "postgres", "mysql_url": "mysql", "redis_url": "redis"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses a real service, so ``-m "not redis"`` selects around it."""
    for item in items:
        for fixture, marker in _SERVICE_FIXTURES.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(getattr(pytest.mark, marker))


def skip_or_fail(reason: str) -> NoReturn:
    """Skip a test that lacks something this machine should have; with CI=true, fail it instead."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (required when CI=true)", pytrace=False)
    pytest.skip(reason)


def unavailable(service: str, url: str, error: BaseException) -> None:
    """Skip (or, with CI=true, fail) a test whose service does not answer."""
    skip_or_fail(
        f"{service} not reachable at {sa.make_url(url).render_as_string(hide_password=True)}: {type(error).__name__}"
    )


def _scratch_database(admin_url: str, service: str, quote: str, force: str = "") -> Iterator[str]:
    name = f"t_{secrets.token_hex(6)}"
    try:
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {quote}{name}{quote}"))
    except sa.exc.OperationalError as error:
        unavailable(service, admin_url, error)
    try:
        yield sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {quote}{name}{quote}{force}"))
        admin.dispose()


@pytest.fixture
def anyio_backend() -> str:
    """The services run on asyncio (uvicorn's loop); anyio tests run there only, even where trio is installed."""
    return "asyncio"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A SQLAlchemy URL of a fresh, empty PostgreSQL database, dropped afterwards."""
    yield from _scratch_database(POSTGRES_ADMIN_URL, "PostgreSQL", '"', force=" WITH (FORCE)")


@pytest.fixture
def mysql_url() -> Iterator[str]:
    """A SQLAlchemy URL of a fresh, empty MariaDB/MySQL database, dropped afterwards."""
    yield from _scratch_database(MYSQL_ADMIN_URL, "MariaDB", "`")


@pytest.fixture
def redis_url() -> str:
    """The URL of the local Redis. Tests share it: namespace keys and channels per test."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        unavailable("Redis", REDIS_URL, error)
    return REDIS_URL


@pytest.fixture(autouse=True)
def _offline_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and a fixed region, so no test can reach a real AWS account."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """The endpoint URL of a moto server shared by the whole session (several processes can use it).

    Tests that use it must create uniquely named resources: state is shared.
    """
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def sqs_client(moto_server: str):  # type: ignore[no-untyped-def]
    """A boto3 SQS client talking to the session's moto server."""
    return boto3.client("sqs", endpoint_url=moto_server, region_name="us-east-1")


@pytest.fixture(scope="session")
def local_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of the local system's balancer: 2 web nodes, no workers, SQLite and moto, shared by the session.

    Tests that change it (the ``/_cluster`` admin API) leave it with two healthy web nodes.
    """
    from tests.support import LocalSystemProcess

    system = LocalSystemProcess(tmp_path_factory.mktemp("local-system"), "--nodes", "2", "--workers", "0")
    try:
        yield system.start()
    finally:
        system.stop()
