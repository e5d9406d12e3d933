"""New database connections that survive a password rotation, for psycopg and PyMySQL.

:func:`use_rotating_credentials` hooks an engine's ``do_connect`` event: every new
connection gets the credentials :class:`~services.secrets.RotatingCredentials` currently
holds; when the server refuses them as an authentication failure, the secret is re-read
(``AWSCURRENT``, then ``AWSPENDING``) and the connection retried, pausing between rounds,
for at most ``retry_seconds``. Connections already open are untouched: changing a password
does not end the sessions that logged in with the old one.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any, Final

import sqlalchemy as sa
import structlog

from services.secrets import Credentials, RotatingCredentials

_log = structlog.get_logger(__name__)

DEFAULT_RETRY_SECONDS: Final = 10.0
"""How long a new connection keeps trying fresh credentials before the failure is raised."""

_PG_AUTH = re.compile(r"password authentication failed|role \".*\" does not exist|no password supplied")
_MYSQL_ACCESS_DENIED: Final = 1045


def is_authentication_error(error: BaseException) -> bool:
    """Whether a driver's connection error means "wrong user or password" (not "server unreachable")."""
    if type(error).__module__.startswith("pymysql"):
        return bool(error.args) and error.args[0] == _MYSQL_ACCESS_DENIED
    sqlstate = getattr(error, "sqlstate", None)  # psycopg leaves it unset for errors at connect
    return sqlstate in ("28P01", "28000") or bool(_PG_AUTH.search(str(error)))


def use_rotating_credentials(
    engine: sa.Engine,
    credentials: RotatingCredentials,
    *,
    retry_seconds: float = DEFAULT_RETRY_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Make every new connection of ``engine`` log in with ``credentials``, re-reading them when refused."""

    def connect(dialect: sa.Dialect, _record: Any, cargs: tuple[Any, ...], cparams: dict[str, Any]) -> Any:
        password_key = "passwd" if "passwd" in cparams else "password"  # PyMySQL's dialect says passwd

        def attempt(login: Credentials) -> Any:
            return dialect.connect(*cargs, **{**cparams, "user": login.username, password_key: login.password})

        login = credentials.current()
        deadline = clock() + retry_seconds
        pause = 0.1
        while True:
            try:
                connection = attempt(login)
            except Exception as error:
                if not is_authentication_error(error):
                    raise
                refused: BaseException = error
            else:
                credentials.worked(login)
                return connection
            for alternative in credentials.alternatives(login):
                try:
                    connection = attempt(alternative)
                except Exception as error:
                    if not is_authentication_error(error):
                        raise
                    refused = error
                    continue
                _log.info("database credentials renewed", secret=credentials.arn, user=alternative.username)
                credentials.worked(alternative)
                return connection
            if clock() + pause > deadline:
                raise refused
            sleep(pause)
            pause = min(pause * 2, 2.0)

    sa.event.listen(engine, "do_connect", connect)
