"""The Redis settings, declared once: the API's settings and the worker's derive from :class:`RedisSettings`.

On AWS the environment names the AUTH token's secret (``REDIS_AUTH_SECRET_ARN``) and never
holds the token; a service reads it with its instance role (:func:`redis_auth_token`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pydantic
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.items.redis_layout import DEFAULT_PREFIX, DEFAULT_TTL_SECONDS, RedisLayout
from services.secrets import SecretError, read_secret, redis_token

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

REDIS_SCHEMES = ("redis", "rediss", "unix")


class RedisSettings(BaseSettings):
    """The shared cache: where it is, how to authenticate, and the layout of the items in it.

    Field ``x_y`` is the environment variable ``X_Y``. Without ``REDIS_URL`` the services
    run without the Redis tier (the API reads through to the database; warming is skipped).
    """

    # Other variables in the environment are ignored; a misspelt keyword argument is refused.
    model_config = SettingsConfigDict(case_sensitive=False, extra="forbid", frozen=True)

    redis_url: str | None = Field(
        default=None, description="redis:// or rediss:// (TLS) URL of the shared cache; unset skips the Redis tier"
    )
    redis_auth_token: SecretStr | None = Field(
        default=None, description="Redis AUTH token (ElastiCache), if not in the URL"
    )
    redis_auth_secret_arn: str | None = Field(
        default=None, description="Secrets Manager secret holding the Redis AUTH token"
    )
    redis_prefix: str = Field(
        default=DEFAULT_PREFIX, description="prefix of every Redis key and channel the services use"
    )
    redis_ttl_seconds: int = Field(default=DEFAULT_TTL_SECONDS, ge=1, description="lifetime of an item's copy in Redis")

    @pydantic.field_validator("redis_url", "redis_auth_secret_arn")
    @classmethod
    def _redis_blank_is_unset(cls, value: str | None) -> str | None:
        return None if value is None else value.strip() or None

    @pydantic.field_validator("redis_url")
    @classmethod
    def _redis_url_scheme(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in REDIS_SCHEMES:
            raise ValueError("must be a redis://, rediss:// (TLS) or unix:// URL")
        return value

    @property
    def layout(self) -> RedisLayout:
        """The Redis key and channel names under ``REDIS_PREFIX``."""
        return RedisLayout(self.redis_prefix)

    def auth_token(self, *, client: SecretsManagerClient | None = None) -> str | None:
        """The AUTH token: from the secret ``REDIS_AUTH_SECRET_ARN`` names, else ``REDIS_AUTH_TOKEN``,
        else None (a password in the URL still applies). Raises :class:`~services.secrets.SecretError`."""
        if self.redis_auth_secret_arn:
            return redis_auth_token(self.redis_auth_secret_arn, client=client)
        return self.redis_auth_token.get_secret_value() if self.redis_auth_token else None


def redis_auth_token(arn: str, *, client: SecretsManagerClient | None = None) -> str:
    """The Redis AUTH token kept in secret ``arn``. Raises :class:`~services.secrets.SecretError`."""
    try:
        return redis_token(read_secret(arn, client=client))
    except SecretError as error:
        raise SecretError(f"REDIS_AUTH_SECRET_ARN: {error}") from None
