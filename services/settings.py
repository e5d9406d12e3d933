"""Reading settings from the environment (pydantic-settings) the same way in every service.

Shared setting types (:data:`DatabaseURL`, :data:`LogLevel`) check what several services read.

A missing or invalid setting stops a service at start with one line naming the environment
variable and the value it got::

    setting WORKER_CONCURRENCY is invalid: Input should be greater than or equal to 1 (got '0')
    setting QUEUE_URL is required

:func:`read_settings` builds a settings class that way; :func:`describe_errors` words an
error for callers that build theirs themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

import pydantic
from pydantic_settings import BaseSettings

from services.db import DatabaseURLError, normalise_url

S = TypeVar("S", bound=BaseSettings)


def _usable_database_url(value: str) -> str:
    try:
        normalise_url(value, require_database=False)  # DATABASE_SECRET_ARN may supply host and name
    except DatabaseURLError as error:
        raise ValueError(str(error)) from None
    return value


def _known_log_level(value: str) -> str:
    if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
    return value.upper()


DatabaseURL = Annotated[str, pydantic.AfterValidator(_usable_database_url)]
"""A database URL this project can use: sqlite, postgresql or mysql (the secret may add host and name)."""

LogLevel = Annotated[str, pydantic.AfterValidator(_known_log_level)]
"""DEBUG, INFO, WARNING or ERROR (any case), upper-cased."""


class SettingsError(ValueError):
    """A setting is missing or invalid; the message is one line naming each bad one."""


def env_names(settings: type[BaseSettings]) -> dict[str, str]:
    """Field name → the environment variable it is read from (its alias, else the name upper-cased)."""
    return {
        name: field.validation_alias if isinstance(field.validation_alias, str) else name.upper()
        for name, field in settings.model_fields.items()
    }


def describe_errors(error: pydantic.ValidationError, names: Mapping[str, str]) -> str:
    """Every problem of ``error`` as one line, naming variables through ``names`` (field → variable)."""
    problems = []
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else ""
        message = str(item["msg"]).removeprefix("Value error, ")
        if not field:  # a check across several settings: its message names them
            problems.append(f"settings: {message}")
        elif item["type"] == "missing":
            problems.append(f"setting {names.get(field, field)} is required")
        else:
            problems.append(f"setting {names.get(field, field)} is invalid: {message} (got {item['input']!r})")
    return "; ".join(problems)


def read_settings(settings: type[S], **overrides: Any) -> S:
    """``settings`` read from the environment (``overrides`` win); :class:`SettingsError` naming each bad one."""
    try:
        return settings(**overrides)
    except pydantic.ValidationError as error:
        raise SettingsError(describe_errors(error, env_names(settings))) from None
