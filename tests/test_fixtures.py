"""The shared fixtures themselves: each real service answers in a scratch database."""

import sqlalchemy as sa

from services.db import make_engine


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
