"""The migration step on real PostgreSQL and MariaDB: schema, app role, and what that role may do."""

from __future__ import annotations

import re
import secrets
from typing import Any

import pytest
import sqlalchemy as sa

from services.db import SchemaVersionError
from services.items.store import items
from services.migrate import MigrateSettings, app_tables, run
from services.migrate.__main__ import main
from services.migrate.app_role import AppRoleError
from services.migrate.lambda_handler import handler
from tests.migrate.conftest import master_secret, put_secret

PASSWORD = "It's %s-a\\p@ss"  # a quote, a percent sign and a backslash: literals must be escaped


def _settings(url: str, manager: Any, role: str, password: str = PASSWORD) -> MigrateSettings:
    bare = sa.make_url(url).set(username=None, password=None).render_as_string(hide_password=False)
    return MigrateSettings(
        database_url=bare,
        migrate_master_secret_arn=master_secret(manager, url),
        database_secret_arn=put_secret(manager, {"username": role, "password": password, "engine": "postgres"}),
    )


def _as_role(url: str, role: str, password: str) -> sa.Engine:
    return sa.create_engine(sa.make_url(url).set(username=role, password=password), poolclass=sa.NullPool)


def _refused(engine: sa.Engine, statement: str) -> None:
    with pytest.raises(sa.exc.DBAPIError) as raised, engine.begin() as conn:
        conn.execute(sa.text(statement))
    assert re.search(r"denied|must be owner", str(raised.value)), raised.value


@pytest.fixture(params=["postgres_url", "mysql_url"])
def database(request: pytest.FixtureRequest, manager: Any) -> str:
    url: str = request.getfixturevalue(request.param)
    return url


def test_the_app_role_reads_and_writes_the_app_tables_and_nothing_else(
    database: str, manager: Any, role_name: str
) -> None:
    settings = _settings(database, manager, role_name)
    assert run(settings) == {"items": 1, "jobs": 1}
    assert run(settings) == {"items": 1, "jobs": 1}  # idempotent: the second run changes nothing
    admin = sa.create_engine(database, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql("CREATE TABLE not_ours (id INTEGER PRIMARY KEY)")
        if admin.dialect.name == "postgresql":
            conn.exec_driver_sql("CREATE SCHEMA other")
            conn.exec_driver_sql("CREATE TABLE other.secrets (id INTEGER PRIMARY KEY)")
    app = _as_role(database, role_name, PASSWORD)
    try:
        with app.begin() as conn:
            conn.execute(sa.insert(items).values(key="k", value="1", version=1))
            conn.execute(sa.text("UPDATE items SET version = 2"))
            assert conn.execute(sa.text("SELECT count(*) FROM items")).scalar_one() == 1
            conn.execute(sa.text("DELETE FROM items"))
            conn.execute(sa.text("SELECT count(*) FROM jobs")).scalar_one()
            conn.execute(sa.text("DELETE FROM job_outbox"))
            assert conn.execute(sa.text("SELECT count(*) FROM schema_versions")).scalar_one() == 2
        _refused(app, "CREATE TABLE mine (id INTEGER)")
        _refused(app, "DROP TABLE items")
        _refused(app, "ALTER TABLE items ADD COLUMN extra INTEGER")
        _refused(app, "UPDATE schema_versions SET version = 9")
        _refused(app, "SELECT * FROM not_ours")
        if admin.dialect.name == "postgresql":
            _refused(app, "SELECT * FROM other.secrets")
        else:
            _refused(app, "SELECT * FROM mysql.user")
    finally:
        app.dispose()
        admin.dispose()
    assert set(app_tables()) == {"items", "jobs", "job_outbox", "job_stats"}


def test_a_new_app_password_replaces_the_old_one(mysql_url: str, manager: Any, role_name: str) -> None:
    """MariaDB checks passwords here (the local PostgreSQL trusts every local login)."""
    run(_settings(mysql_url, manager, role_name, "first-password"))
    run(_settings(mysql_url, manager, role_name, "second-password"))
    with _as_role(mysql_url, role_name, "second-password").connect() as conn:
        assert conn.execute(sa.text("SELECT 1")).scalar_one() == 1
    with pytest.raises(sa.exc.OperationalError, match="Access denied"):
        _as_role(mysql_url, role_name, "first-password").connect()


def test_check_changes_nothing_and_fails_until_migrated(postgres_url: str, manager: Any, role_name: str) -> None:
    settings = _settings(postgres_url, manager, role_name)
    with pytest.raises(SchemaVersionError, match="'items' is at version 0, this code needs 1"):
        run(settings, check=True)
    run(settings)
    assert run(settings, check=True) == {"items": 1, "jobs": 1}


def test_the_master_user_cannot_be_the_app_role(postgres_url: str, manager: Any) -> None:
    settings = _settings(postgres_url, manager, "postgres")
    with pytest.raises(AppRoleError, match="the user the migration connects as"):
        run(settings)


def test_the_command_line_and_the_lambda_handler(
    postgres_url: str, manager: Any, role_name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(postgres_url, manager, role_name)
    for name, value in settings.model_dump(exclude_none=True).items():
        monkeypatch.setenv(name.upper(), str(value))
    assert main(["--check"]) == 1
    assert "run the migration step" in capsys.readouterr().err
    assert handler({"RequestType": "Create"}, None) == {
        "PhysicalResourceId": "schema-migration",
        "Data": {"items": "1", "jobs": "1"},
    }
    assert main(["--check"]) == 0
    assert "schema is current: items v1, jobs v1" in capsys.readouterr().out
    assert handler({"RequestType": "Delete", "PhysicalResourceId": "x"}, None) == {"PhysicalResourceId": "x"}
    monkeypatch.setenv(
        "MIGRATE_MASTER_SECRET_ARN", f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{secrets.token_hex(3)}"
    )
    assert main([]) == 1
    assert capsys.readouterr().err.startswith("migrate: MIGRATE_MASTER_SECRET_ARN: secret ")
