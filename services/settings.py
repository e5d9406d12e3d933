"""Reading settings from the environment (pydantic-settings) the same way in every service.

Shared setting types (:data:`DatabaseURL`, :data:`LogLevel`) check what several services read.

A missing or invalid setting stops a service at start with one line naming the environment
variable and the value it got::

    setting WORKER_CONCURRENCY is invalid: Input should be greater than or equal to 1 (got '0')
    setting QUEUE_URL is required

:func:`read_settings` builds a settings class that way; :func:`describe_errors` words an
error for callers that build theirs themselves.

The local system (``python -m services.local up``) publishes the environment it gives its
services (:func:`publish_local_system`), so a command line tool run beside it can default
to the same queue and database (:func:`local_system_env`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Final, TypeVar

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
    """Field name → the environment variable it is read from: the name upper-cased (no aliases here)."""
    return {name: name.upper() for name in settings.model_fields}


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


LOCAL_DATA_DIR: Final = Path(".local")
"""Where ``python -m services.local up`` keeps its files unless given ``--data-dir``."""

_LOCAL_SYSTEM_FILE: Final = "system.json"


def publish_local_system(data_dir: Path, env: Mapping[str, str]) -> Path:
    """Record that a local system runs (this process) from ``data_dir``, with its services' ``env``.

    The file is readable by its owner only: ``env`` may hold a database password.
    """
    path = data_dir / _LOCAL_SYSTEM_FILE
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        json.dump({"pid": os.getpid(), "env": dict(env)}, out, indent=2)
    temporary.replace(path)  # a reader sees the old file or the new one, never half
    return path


def withdraw_local_system(data_dir: Path) -> None:
    """Remove what :func:`publish_local_system` wrote (the local system is stopping)."""
    (data_dir / _LOCAL_SYSTEM_FILE).unlink(missing_ok=True)


def local_system_env(data_dir: Path = LOCAL_DATA_DIR) -> dict[str, str] | None:
    """The environment the local system running from ``data_dir`` gives its services.

    None when no local system published one there, or when the process that did has exited
    (a file left behind by a killed system).
    """
    try:
        state = json.loads((data_dir / _LOCAL_SYSTEM_FILE).read_text())
        pid, env = int(state["pid"]), state["env"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(env, dict) or not _running(pid):
        return None
    return {str(name): str(value) for name, value in env.items()}


def _running(pid: int) -> bool:
    if pid <= 0:  # 0 and negative numbers name process groups, not a process
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, and someone else's
        return True
    return True
