"""Secrets at start, shared by the services: read once from Secrets Manager, never from the environment.

On AWS an instance's environment names its secrets (``DATABASE_SECRET_ARN``,
``REDIS_AUTH_SECRET_ARN``) and never holds their values; a service reads them once at start
with its instance role. The database secret has RDS's format: JSON with ``username`` and
``password``, and optionally ``host``/``port``/``dbname``, which fill in what the database
URL leaves out. A Redis AUTH secret is the token itself, or JSON with a ``token``,
``authToken`` or ``password`` field.

The database password rotates (Secrets Manager's single-user rotation), so services do not
keep the value they read at start: :class:`RotatingCredentials` hands the current
credentials to every new connection and re-reads the secret when the database refuses them.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import sqlalchemy as sa

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


class SecretError(RuntimeError):
    """A secret could not be read or has the wrong shape; the message names the secret."""


def secrets_client() -> SecretsManagerClient:
    """A Secrets Manager client for the instance's region and role (``AWS_ENDPOINT_URL`` honoured)."""
    import boto3

    return boto3.client("secretsmanager")


def read_secret(arn: str, *, client: SecretsManagerClient | None = None) -> str:
    """The string value of secret ``arn``. Raises :class:`SecretError` naming the secret."""
    try:
        secret = (client or secrets_client()).get_secret_value(SecretId=arn)
    except Exception as error:
        raise SecretError(f"secret {arn!r} cannot be read: {error}") from error
    if "SecretString" not in secret:
        raise SecretError(f"secret {arn!r} has no string value")
    return secret["SecretString"]


def database_url_with_credentials(url: str, secret: str) -> str:
    """``url`` with the user and password of ``secret`` (RDS format), and its host and database if ``url`` has none."""
    try:
        fields = json.loads(secret)
        password = fields["password"]
    except (ValueError, TypeError, KeyError):
        raise SecretError("database secret must be JSON with a 'password' field (the RDS format)") from None
    parsed = sa.make_url(url)
    parsed = parsed.set(username=fields.get("username") or parsed.username, password=password)
    if not parsed.host and fields.get("host"):
        parsed = parsed.set(host=fields["host"], port=int(fields["port"]) if fields.get("port") else None)
    if not parsed.database and fields.get("dbname"):
        parsed = parsed.set(database=fields["dbname"])
    return parsed.render_as_string(hide_password=False)


def resolve_database_url(url: str, secret_arn: str | None, *, client: SecretsManagerClient | None = None) -> str:
    """``url`` completed from the database secret ``secret_arn``; ``url`` itself when no secret is named."""
    if not secret_arn:
        return url
    try:
        return database_url_with_credentials(url, read_secret(secret_arn, client=client))
    except SecretError as error:
        raise SecretError(f"DATABASE_SECRET_ARN: {error}") from None


def redis_token(secret: str) -> str:
    """The AUTH token in a Redis secret's value (the token, or JSON with ``token``/``authToken``/``password``)."""
    text = secret.strip()
    if text.startswith("{"):
        try:
            fields = json.loads(text)
        except ValueError:
            raise SecretError("Redis AUTH secret is neither a token nor JSON") from None
        for name in ("token", "authToken", "password"):
            if isinstance(fields.get(name), str) and fields[name]:
                return str(fields[name])
        raise SecretError("Redis AUTH secret JSON needs a 'token', 'authToken' or 'password' field")
    if not text:
        raise SecretError("Redis AUTH secret is empty")
    return text


@dataclass(frozen=True, slots=True)
class Credentials:
    """A database user name and password (the password is left out of ``repr``)."""

    username: str
    password: str = field(repr=False)


def database_credentials(secret: str) -> Credentials:
    """The ``username`` and ``password`` of a database secret (RDS format); :class:`SecretError` if absent."""
    try:
        fields = json.loads(secret)
        username, password = fields["username"], fields["password"]
    except (ValueError, TypeError, KeyError):
        raise SecretError("database secret must be JSON with 'username' and 'password' (the RDS format)") from None
    if not isinstance(username, str) or not isinstance(password, str) or not username:
        raise SecretError("database secret's 'username' and 'password' must be strings")
    return Credentials(username, password)


class RotatingCredentials:
    """The credentials of a rotated database secret, re-read when the database refuses them.

    :meth:`current` answers from memory (the secret is read on first use). After the
    database refuses credentials, :meth:`alternatives` re-reads the secret's ``AWSCURRENT``
    and ``AWSPENDING`` versions: during a single-user rotation the database may already
    hold the pending password while ``AWSCURRENT`` still names the old one. Re-reads are
    rate-bounded (at most one per ``min_refresh_seconds`` per process, shared by every
    thread), so a database that refuses everything cannot turn into a Secrets Manager storm.
    Thread-safe.
    """

    STAGES: Final = ("AWSCURRENT", "AWSPENDING")

    def __init__(
        self,
        arn: str,
        *,
        client: SecretsManagerClient | None = None,
        min_refresh_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.arn = arn
        self._client = client
        self._min_refresh = min_refresh_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._preferred: Credentials | None = None
        self._known: tuple[Credentials, ...] = ()
        self._read_at: float | None = None
        self.reads = 0
        """How many times the secret was read (each read fetches both stages)."""

    def current(self) -> Credentials:
        """The credentials to try first: the last that worked, else ``AWSCURRENT``."""
        with self._lock:
            if self._preferred is None:
                self._refresh_locked()
            assert self._preferred is not None
            return self._preferred

    def alternatives(self, refused: Credentials) -> list[Credentials]:
        """Credentials to try after ``refused`` was refused: ``AWSCURRENT`` then ``AWSPENDING``, re-read if allowed."""
        with self._lock:
            if self._read_at is None or self._clock() - self._read_at >= self._min_refresh:
                self._refresh_locked()
            return [known for known in self._known if known != refused]

    def worked(self, credentials: Credentials) -> None:
        """Remember that the database accepted ``credentials``: new connections try them first."""
        with self._lock:
            self._preferred = credentials

    def _refresh_locked(self) -> None:
        client = self._client or secrets_client()
        self._client = client
        found: list[Credentials] = []
        for stage in self.STAGES:
            try:
                value = client.get_secret_value(SecretId=self.arn, VersionStage=stage)
            except client.exceptions.ResourceNotFoundException:
                if stage == "AWSCURRENT":
                    raise SecretError(f"secret {self.arn!r} cannot be read: it has no AWSCURRENT version") from None
                continue  # no rotation under way: there is no AWSPENDING version
            except Exception as error:
                raise SecretError(f"secret {self.arn!r} cannot be read: {error}") from error
            if "SecretString" not in value:
                raise SecretError(f"secret {self.arn!r} has no string value")
            credentials = database_credentials(value["SecretString"])
            if credentials not in found:
                found.append(credentials)
        self.reads += 1
        self._read_at = self._clock()
        self._known = tuple(found)
        if self._preferred is None or self._preferred not in found:
            self._preferred = found[0]
