"""The database settings the API and the worker share, declared once (pydantic-settings).

Locally ``DATABASE_URL`` carries everything and the services migrate the schema at start.
On AWS the URL names only the endpoint and database; ``DATABASE_SECRET_ARN`` names the
application role's rotated secret, ``DATABASE_TLS_CA_FILE`` the CA bundle that verifies the
server, and ``DATABASE_MIGRATIONS=check`` leaves the schema to the deploy's migration step.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pydantic
from pydantic import Field
from pydantic_settings import BaseSettings

from services.db import make_engine, normalise_url
from services.jobs.store import DEFAULT_DATABASE_URL
from services.secrets import RotatingCredentials, SecretError, database_url_with_credentials, read_secret
from services.settings import DatabaseURL

if TYPE_CHECKING:
    import sqlalchemy as sa
    from mypy_boto3_secretsmanager import SecretsManagerClient


class DatabaseSettings(BaseSettings):
    """Where the database is, how to log in and verify it, and who migrates it. Field ``x_y`` is ``X_Y``."""

    database_url: DatabaseURL = Field(
        default=DEFAULT_DATABASE_URL, description="the items and jobs database (sqlite, postgresql, mysql)"
    )
    database_secret_arn: str | None = Field(
        default=None,
        description="Secrets Manager secret (RDS format) of the app role: its username/password log in, "
        "re-read when the database refuses them (rotation)",
    )
    database_tls_ca_file: Path | None = Field(
        default=None, description="CA bundle that verifies the server (PostgreSQL verify-full; MySQL CA + host name)"
    )
    database_migrations: Literal["apply", "check"] = Field(
        default="apply",
        description="apply: migrate the schema at start; check: only check its version (on AWS the deploy migrates)",
    )

    database_pool_recycle_seconds: float = Field(
        default=1800, gt=0, le=86400, description="a pooled connection older than this logs in again at its next use"
    )

    @pydantic.field_validator("database_secret_arn", "database_tls_ca_file", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return (value.strip() or None) if isinstance(value, str) else value

    def open_engine(self, *, client: SecretsManagerClient | None = None, **options: Any) -> sa.Engine:
        """An engine on the database, logging in with the rotated secret when one is named.

        The secret is read once here (a missing or malformed one fails at start, naming
        ``DATABASE_SECRET_ARN``); its host and database fill in what the URL leaves out.
        """
        url = self.database_url
        credentials = None
        if self.database_secret_arn:
            try:
                url = database_url_with_credentials(url, read_secret(self.database_secret_arn, client=client))
            except SecretError as error:
                raise SecretError(f"DATABASE_SECRET_ARN: {error}") from None
            credentials = RotatingCredentials(self.database_secret_arn, client=client)
        normalise_url(url)  # a URL the secret did not complete fails here, naming the problem
        options.setdefault("pool_recycle", self.database_pool_recycle_seconds)
        return make_engine(url, credentials=credentials, tls_ca_file=self.database_tls_ca_file, **options)
