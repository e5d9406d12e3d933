"""The API's secrets at start: the database password and the Redis AUTH token.

On AWS the environment names the secrets (``DATABASE_SECRET_ARN``, ``REDIS_AUTH_SECRET_ARN``)
and never holds their values; the node reads them once at start with its instance role,
through the shared :mod:`services.secrets`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from services.api.settings import ApiSettings
from services.items.redis_settings import redis_auth_token
from services.secrets import SecretError, resolve_database_url, secrets_client

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

__all__ = ["SecretError", "resolve_secrets"]


def resolve_secrets(settings: ApiSettings, *, client: SecretsManagerClient | None = None) -> ApiSettings:
    """Return ``settings`` with the secrets they name filled in (unchanged if they name none).

    Raises :class:`~services.secrets.SecretError` naming the setting and the secret.
    """
    if not settings.database_secret_arn and not settings.redis_auth_secret_arn:
        return settings
    client = client or secrets_client()
    updates: dict[str, Any] = {}
    if settings.database_secret_arn:
        updates["database_url"] = resolve_database_url(
            settings.database_url, settings.database_secret_arn, client=client
        )
    if settings.redis_auth_secret_arn:
        updates["redis_auth_token"] = SecretStr(redis_auth_token(settings.redis_auth_secret_arn, client=client))
    return settings.model_copy(update=updates)
