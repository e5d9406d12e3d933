"""The deploy's migration step: the schema and the application role, run as the master user.

``python -m services.migrate`` (and the Lambda handler :mod:`services.migrate.lambda_handler`,
which the stack runs once per deploy) connects with the master secret
(``MIGRATE_MASTER_SECRET_ARN``), brings every component's schema up to date under the
migration lock, and creates or updates the application role named by the app secret
(``DATABASE_SECRET_ARN``): DML on the application's tables only, its password the secret's
current one. The services then log in as that role and only check the schema version
(``DATABASE_MIGRATIONS=check``). ``--check`` changes nothing and fails if a migration is due.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import sqlalchemy as sa
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.db import Migration, check_schema, make_engine, migrate, migration_lock, normalise_url
from services.items import store as items_store
from services.jobs import schema as jobs_schema
from services.migrate.app_role import AppRoleError, grant_app_role
from services.secrets import SecretError, database_credentials, database_url_with_credentials, read_secret
from services.settings import DatabaseURL, SettingsError, read_settings

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

__all__ = ["COMPONENTS", "AppRoleError", "MigrateSettings", "SettingsError", "app_tables", "run"]


@dataclass(frozen=True, slots=True)
class Component:
    """One owner of tables: its name in ``schema_versions``, its steps and its tables."""

    name: str
    steps: Sequence[Migration]
    metadata: sa.MetaData


COMPONENTS: Final = (
    Component(items_store.COMPONENT, items_store.MIGRATIONS, items_store.metadata),
    Component(jobs_schema.COMPONENT, jobs_schema.MIGRATIONS, jobs_schema.metadata),
)
"""Every component whose schema the migration step manages, in order."""

VERSIONS_TABLE: Final = "schema_versions"


def app_tables() -> list[str]:
    """The tables the application role reads and writes: every component's."""
    return sorted(name for component in COMPONENTS for name in component.metadata.tables)


class MigrateSettings(BaseSettings):
    """What the migration step reads from its environment. Field ``x_y`` is variable ``X_Y``."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    database_url: DatabaseURL = Field(description="the database (its credentials come from the master secret)")
    migrate_master_secret_arn: str | None = Field(
        default=None, description="master user's secret (RDS format); unset: the credentials in DATABASE_URL"
    )
    database_secret_arn: str | None = Field(
        default=None, description="the app secret: its username/password define the application role; unset: no role"
    )
    database_tls_ca_file: Path | None = Field(default=None, description="CA bundle that verifies the server")


def load_settings() -> MigrateSettings:
    """The settings from the environment; :class:`SettingsError` naming each bad one."""
    return read_settings(MigrateSettings)


def run(
    settings: MigrateSettings, *, check: bool = False, client: SecretsManagerClient | None = None
) -> dict[str, int]:
    """Migrate (or with ``check`` only verify) every component and set up the app role; return the versions.

    Raises :class:`~services.secrets.SecretError`, :class:`AppRoleError`,
    :class:`~services.db.SchemaVersionError` (``check`` and a migration is due) or
    ``SQLAlchemyError``.
    """
    url = settings.database_url
    if settings.migrate_master_secret_arn:
        url = database_url_with_credentials(
            url, _secret("MIGRATE_MASTER_SECRET_ARN", settings.migrate_master_secret_arn, client)
        )
    normalise_url(url)
    engine = make_engine(url, tls_ca_file=settings.database_tls_ca_file, poolclass=sa.NullPool)
    try:
        if check:
            return {component.name: check_schema(engine, component.name, component.steps) for component in COMPONENTS}
        versions = {component.name: migrate(engine, component.name, component.steps) for component in COMPONENTS}
        if settings.database_secret_arn:
            app = database_credentials(_secret("DATABASE_SECRET_ARN", settings.database_secret_arn, client))
            with migration_lock(engine), engine.begin() as conn:
                grant_app_role(conn, app, tables=app_tables(), read_only=[VERSIONS_TABLE])
        return versions
    finally:
        engine.dispose()


def _secret(setting: str, arn: str, client: SecretsManagerClient | None) -> str:
    try:
        return read_secret(arn, client=client)
    except SecretError as error:
        raise SecretError(f"{setting}: {error}") from None
