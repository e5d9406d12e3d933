"""Database engines and versioned schema migrations, for SQLite, PostgreSQL and MySQL.

One URL selects the backend: ``sqlite:///path`` (the embedded default),
``postgresql://...`` (Aurora PostgreSQL; driven by psycopg 3) or ``mysql://...``
(Aurora MySQL, MariaDB; driven by PyMySQL). Each component (jobs, items) owns an ordered
list of migration steps; :func:`migrate` applies the missing ones at start, under a lock,
so several processes starting at once apply each step exactly once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import weakref
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa

from services.db_auth import use_rotating_credentials
from services.db_tls import verified_tls

if TYPE_CHECKING:
    from services.secrets import RotatingCredentials

Migration = Callable[[sa.Connection], None]
"""One schema step. It runs in a transaction where the backend allows DDL in one."""

_DRIVERS: Final = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql"}
_ALIASES: Final = {
    "postgres": "postgresql",
    "mariadb": "mysql",
    "aurora-postgresql": "postgresql",
    "aurora-mysql": "mysql",
}

_origins: weakref.WeakKeyDictionary[sa.Engine, tuple[str | sa.URL, RotatingCredentials | None, str | Path | None]] = (
    weakref.WeakKeyDictionary()
)

_versions = sa.Table(
    "schema_versions",
    sa.MetaData(),
    sa.Column("component", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
)


class SchemaVersionError(RuntimeError):
    """The database schema is not at the version this code expects (migrate first, or roll back)."""


class DatabaseURLError(ValueError):
    """A database URL that cannot be used; the message names the problem."""


def normalise_url(url: str | sa.URL, *, require_database: bool = True) -> sa.URL:
    """Parse ``url`` and pick this project's driver for its backend.

    Raises :class:`DatabaseURLError` for unparseable URLs, unsupported backends and (unless
    ``require_database`` is false: a secret may name it later) a server URL naming no database.
    """
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as error:
        raise DatabaseURLError(f"database URL {url!r} is not a valid URL: {error}") from None
    backend = parsed.get_backend_name()
    backend = _ALIASES.get(backend, backend)
    if backend not in _DRIVERS:
        raise DatabaseURLError(
            f"database URL scheme {parsed.drivername!r} is not supported; use sqlite, postgresql or mysql"
        )
    if require_database and backend != "sqlite" and not parsed.database:
        raise DatabaseURLError(f"database URL {parsed.render_as_string()!r} names no database")
    return parsed.set(drivername=_DRIVERS[backend])


def make_engine(
    url: str | sa.URL,
    *,
    credentials: RotatingCredentials | None = None,
    tls_ca_file: str | Path | None = None,
    **options: Any,
) -> sa.Engine:
    """Create an engine for ``url`` with settings fit for many processes sharing one database.

    SQLite runs in WAL mode with a busy timeout, so local API nodes and workers can share a file.
    With ``credentials`` every new server connection logs in with the rotated secret's current
    user and password (:mod:`services.db_auth`); with ``tls_ca_file`` it verifies the server's
    certificate and host name against that CA (:mod:`services.db_tls`).
    """
    parsed = normalise_url(url)
    options.setdefault("pool_pre_ping", True)
    if tls_ca_file is not None:
        parsed, tls_args = verified_tls(parsed, tls_ca_file)
        options["connect_args"] = {**options.get("connect_args", {}), **tls_args}
    if parsed.get_backend_name() == "sqlite":
        options.setdefault("connect_args", {}).setdefault("check_same_thread", False)
        options["connect_args"].setdefault("timeout", 30)
        engine = sa.create_engine(parsed, **options)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    options.setdefault("pool_recycle", 1800)
    engine = sa.create_engine(parsed, **options)
    if credentials is not None:
        use_rotating_credentials(engine, credentials)
    _origins[engine] = (url, credentials, tls_ca_file)
    return engine


def credentials_of(engine: sa.Engine) -> RotatingCredentials | None:
    """The rotated credentials ``engine`` logs in with (None: the URL's own)."""
    return _origins.get(engine, (None, None, None))[1]


def sibling_engine(engine: sa.Engine, **options: Any) -> sa.Engine:
    """A new engine (own pool, ``options``) on the database of ``engine``, logging in and verifying it the same way."""
    url, credentials, tls_ca_file = _origins.get(engine, (engine.url, None, None))
    # Same connection lifetime: a sibling that kept its logins forever would never meet a rotated password.
    options.setdefault("pool_recycle", getattr(engine.pool, "_recycle", -1))
    return make_engine(url, credentials=credentials, tls_ca_file=tls_ca_file, **options)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def migrate(engine: sa.Engine, component: str, steps: Sequence[Migration]) -> int:
    """Apply the steps of ``component`` that this database has not seen; return its version.

    Safe to call from several processes at once: a database-wide lock serialises them.
    Raises ``RuntimeError`` if the database is newer than this code (a downgrade).
    """
    with migration_lock(engine):
        _versions.create(engine, checkfirst=True)
        with engine.begin() as conn:
            row = conn.execute(sa.select(_versions.c.version).where(_versions.c.component == component)).first()
        current = row.version if row else 0
        if current > len(steps):
            raise RuntimeError(
                f"database schema of {component!r} is at version {current}, newer than this code's {len(steps)}"
            )
        for version, step in enumerate(steps[current:], start=current + 1):
            with engine.begin() as conn:
                step(conn)
                if version == 1:
                    conn.execute(sa.insert(_versions).values(component=component, version=1))
                else:
                    conn.execute(sa.update(_versions).where(_versions.c.component == component).values(version=version))
        return len(steps)


def check_schema(engine: sa.Engine, component: str, steps: Sequence[Migration]) -> int:
    """The schema version of ``component``; :class:`SchemaVersionError` unless it is this code's.

    For services that do not migrate at start (on AWS the deploy's migration step does): they
    only need to read ``schema_versions``.
    """
    try:
        with engine.connect() as conn:
            row = conn.execute(sa.select(_versions.c.version).where(_versions.c.component == component)).first()
    except sa.exc.ProgrammingError:
        row = None  # no schema_versions table: nothing was ever migrated
    current = row.version if row else 0
    if current != len(steps):
        raise SchemaVersionError(
            f"database schema of {component!r} is at version {current}, this code needs {len(steps)}: "
            "run the migration step (python -m services.migrate)"
        )
    return current


@contextlib.contextmanager
def migration_lock(engine: sa.Engine) -> Iterator[None]:
    """Hold the database-wide schema lock (not re-entrant: do not call :func:`migrate` inside)."""
    backend = engine.dialect.name
    if backend == "sqlite":
        database = engine.url.database
        if not database or database == ":memory:":
            yield
            return
        with Path(f"{database}.migrate-lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    with engine.connect() as conn:
        if backend == "postgresql":
            key = int.from_bytes(hashlib.blake2b(b"schema_versions", digest_size=8).digest(), "big", signed=True)
            conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": key})
            release = sa.text("SELECT pg_advisory_unlock(:key)"), {"key": key}
        else:
            got = conn.execute(sa.text("SELECT GET_LOCK('schema_versions', 60)")).scalar()
            if got != 1:
                raise RuntimeError("timed out waiting for the schema migration lock")
            release = sa.text("SELECT RELEASE_LOCK('schema_versions')"), {}
        conn.commit()
        try:
            yield
        finally:
            conn.execute(*release)
            conn.commit()
