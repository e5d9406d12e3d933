"""The shared fixtures: each real service answers in a scratch database; one that is down skips, or fails under CI."""

import pytest
import sqlalchemy as sa

from services.db import make_engine
from tests.conftest import unavailable


def test_postgres_scratch_database_is_empty(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT current_database()")).scalar() == sa.make_url(postgres_url).database
        assert sa.inspect(conn).get_table_names() == []
    engine.dispose()


def test_mysql_scratch_database_is_empty(mysql_url: str) -> None:
    engine = make_engine(mysql_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT DATABASE()")).scalar() == sa.make_url(mysql_url).database
        assert sa.inspect(conn).get_table_names() == []
    engine.dispose()


def test_moto_server_serves_sqs(sqs_client) -> None:  # type: ignore[no-untyped-def]
    url = sqs_client.create_queue(QueueName="fixture-check")["QueueUrl"]
    sqs_client.send_message(QueueUrl=url, MessageBody="hello")
    messages = sqs_client.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert [m["Body"] for m in messages] == ["hello"]


def test_an_unreachable_service_skips_locally_and_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgresql+psycopg://postgres:hunter2@127.0.0.1:1/test"
    monkeypatch.delenv("CI", raising=False)
    shown = r"postgresql\+psycopg://postgres:\*\*\*@127\.0\.0\.1:1/test"  # the password hidden
    with pytest.raises(pytest.skip.Exception, match=rf"PostgreSQL not reachable at {shown}: OSError$"):
        unavailable("PostgreSQL", url, OSError("refused"))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=rf"{shown}: OSError \(required when CI=true\)$"):
        unavailable("PostgreSQL", url, OSError("refused"))
