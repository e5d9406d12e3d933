"""The application's database role: it logs in, reads and writes the application's tables, nothing else.

:func:`grant_app_role` creates the role (or updates its password) and grants DML on the
named tables, idempotently, on PostgreSQL and MySQL/MariaDB. It runs as the master user
during the deploy's migration step. The role cannot create, alter or drop anything, and
has no right on any other table; ``schema_versions`` it may only read (services check the
schema version at start).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final

import sqlalchemy as sa

from services.secrets import Credentials

DML: Final = "SELECT, INSERT, UPDATE, DELETE"

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


class AppRoleError(ValueError):
    """The application role cannot be set up as asked; the message says why."""


def grant_app_role(
    conn: sa.Connection,
    credentials: Credentials,
    *,
    tables: Sequence[str],
    read_only: Sequence[str] = (),
    mysql_host: str = "%",
) -> None:
    """Create or update role ``credentials.username`` with DML on ``tables`` and SELECT on ``read_only``.

    Its password becomes ``credentials.password``. Raises :class:`AppRoleError` for a name
    that is not a plain identifier or that is the connected (master) user.
    """
    name = credentials.username
    if not _NAME.fullmatch(name):
        raise AppRoleError(f"app role name {name!r} must be letters, digits and underscores (not first), 1-63 long")
    if name == conn.engine.url.username:
        raise AppRoleError(f"app role {name!r} is the user the migration connects as: give the app its own user")
    if conn.dialect.name == "postgresql":
        _grant_postgresql(conn, credentials, tables, read_only)
    elif conn.dialect.name == "mysql":
        _grant_mysql(conn, credentials, mysql_host, tables, read_only)
    else:
        raise AppRoleError(f"{conn.dialect.name} has no roles: the app role needs PostgreSQL or MySQL")


def _run(conn: sa.Connection, statement: Any, parameters: Sequence[str] | None = None) -> None:
    # The driver's own cursor: DDL takes no server-side parameters, so each driver quotes
    # the literals itself (psycopg's sql.Literal; PyMySQL's escaping, which follows the
    # server's NO_BACKSLASH_ESCAPES mode).
    cursor = conn.connection.cursor()
    try:
        cursor.execute(statement, parameters)
    finally:
        cursor.close()


def _grant_postgresql(
    conn: sa.Connection, credentials: Credentials, tables: Sequence[str], read_only: Sequence[str]
) -> None:
    from psycopg import sql

    quote = conn.dialect.identifier_preparer.quote
    role = quote(credentials.username)
    exists = conn.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": credentials.username}).first()
    verb = "ALTER" if exists else "CREATE"
    _run(
        conn,
        sql.SQL("{} ROLE {} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD {}").format(
            sql.SQL(verb), sql.Identifier(credentials.username), sql.Literal(credentials.password)
        ),
    )
    database = conn.execute(sa.text("SELECT current_database()")).scalar_one()
    schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
    _run(conn, f"GRANT CONNECT ON DATABASE {quote(database)} TO {role}")
    _run(conn, f"GRANT USAGE ON SCHEMA {quote(schema)} TO {role}")
    if int(conn.execute(sa.text("SHOW server_version_num")).scalar_one()) < 150000:
        # Before PostgreSQL 15 every role may create objects in the public schema.
        _run(conn, f"REVOKE CREATE ON SCHEMA {quote(schema)} FROM PUBLIC")
    if tables:
        _run(conn, f"GRANT {DML} ON TABLE {', '.join(map(quote, tables))} TO {role}")
    if read_only:
        _run(conn, f"GRANT SELECT ON TABLE {', '.join(map(quote, read_only))} TO {role}")
    sequences = conn.execute(
        sa.text(
            "SELECT DISTINCT s.relname FROM pg_class s"
            " JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass"
            " JOIN pg_class t ON t.oid = d.refobjid"
            " JOIN pg_namespace n ON n.oid = t.relnamespace"
            " WHERE s.relkind = 'S' AND n.nspname = :schema AND t.relname = ANY(:tables)"
        ),
        {"schema": schema, "tables": list(tables)},
    ).scalars()
    names = [quote(sequence) for sequence in sequences]
    if names:  # serial and identity columns: inserting takes their next value
        _run(conn, f"GRANT USAGE, SELECT ON SEQUENCE {', '.join(names)} TO {role}")


def _grant_mysql(
    conn: sa.Connection, credentials: Credentials, host: str, tables: Sequence[str], read_only: Sequence[str]
) -> None:
    quote = conn.dialect.identifier_preparer.quote
    database = quote(conn.execute(sa.text("SELECT DATABASE()")).scalar_one())
    account = (credentials.username, host)
    _run(conn, "CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s", (*account, credentials.password))
    _run(conn, "ALTER USER %s@%s IDENTIFIED BY %s", (*account, credentials.password))
    for table in tables:
        _run(conn, f"GRANT {DML} ON {database}.{quote(table)} TO %s@%s", account)
    for table in read_only:
        _run(conn, f"GRANT SELECT ON {database}.{quote(table)} TO %s@%s", account)
