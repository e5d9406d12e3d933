"""Secrets at start, shared by the services: read once from Secrets Manager, never from the environment.

On AWS an instance's environment names its secrets (``DATABASE_SECRET_ARN``,
``REDIS_AUTH_SECRET_ARN``) and never holds their values; a service reads them once at start
with its instance role. The database secret has RDS's format: JSON with ``username`` and
``password``, and optionally ``host``/``port``/``dbname``, which fill in what the database
URL leaves out. A Redis AUTH secret is the token itself, or JSON with a ``token``,
``authToken`` or ``password`` field.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

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
