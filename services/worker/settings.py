"""The worker's settings, read once from the environment at start (pydantic-settings).

A missing or invalid setting stops the worker with one line naming it: see :func:`load_settings`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pydantic
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.items.redis_settings import RedisSettings
from services.jobs import DEFAULT_DATABASE_URL
from services.jobs.spec import QUEUE
from services.settings import DatabaseURL, LogLevel, SettingsError, env_names, read_settings
from services.worker.config import WorkerConfig, default_worker_id

_CONFIG_FIELDS = {field.name for field in dataclasses.fields(WorkerConfig)}


def _env(name: str, default: Any, description: str, **constraints: Any) -> Any:
    """A setting read from the environment variable ``name``."""
    return Field(default=default, validation_alias=name, description=description, **constraints)


class WorkerSettings(RedisSettings):
    """Environment variables of ``python -m services.worker`` (names as in the aliases; the
    ``REDIS_*`` ones, which the ``warm_item_cache`` precompute step uses, from :class:`RedisSettings`)."""

    model_config = SettingsConfigDict(populate_by_name=True)

    database_url: DatabaseURL = _env("DATABASE_URL", DEFAULT_DATABASE_URL, "the job database")
    database_secret_arn: str | None = _env(
        "DATABASE_SECRET_ARN",
        None,
        "Secrets Manager secret (RDS format) whose username/password complete DATABASE_URL, read at start",
    )
    queue_url: str = Field(validation_alias="QUEUE_URL", min_length=1, description="the SQS job queue")
    log_level: LogLevel = _env("LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING or ERROR")
    log_json: bool = _env("LOG_JSON", True, "JSON lines (true) or console text (false)")
    job_type_modules: str = Field(
        "", description="extra job type (contract) modules, comma-separated: the API's JOB_TYPE_MODULES"
    )
    handler_modules: str = _env(
        "JOB_HANDLER_MODULES", "", "extra handler modules to import, comma-separated: handlers of those types"
    )
    worker_id: str = Field(
        default_factory=default_worker_id, validation_alias="WORKER_ID", min_length=1, description="this worker's name"
    )
    concurrency: int = _env("WORKER_CONCURRENCY", 10, "jobs run at once", ge=1, le=512)
    batch_size: int = _env("WORKER_BATCH_SIZE", QUEUE.batch_size, "messages per receive and per ack batch", ge=1, le=10)
    receive_wait_seconds: int = _env(
        "WORKER_RECEIVE_WAIT_SECONDS", QUEUE.receive_wait_seconds, "long poll", ge=0, le=20
    )
    visibility_timeout_seconds: int = _env(
        "WORKER_VISIBILITY_TIMEOUT_SECONDS",
        QUEUE.visibility_timeout_seconds,
        "visibility set at receive and by each heartbeat",
        ge=1,
        le=43200,
    )
    heartbeat_seconds: float = _env("WORKER_HEARTBEAT_SECONDS", QUEUE.heartbeat_seconds, "heartbeat interval", gt=0)
    lease_seconds: float = _env("WORKER_LEASE_SECONDS", QUEUE.visibility_timeout_seconds, "job lease", gt=0)
    max_receive_count: int | None = _env(
        "WORKER_MAX_RECEIVE_COUNT", None, "attempts per message; unset: the redrive policy's", ge=1, le=1000
    )
    backoff_base_seconds: float = _env("WORKER_BACKOFF_BASE_SECONDS", 2.0, "first retry delay", gt=0)
    backoff_max_seconds: float = _env("WORKER_BACKOFF_MAX_SECONDS", 300.0, "longest retry delay", gt=0)
    drain_seconds: float = _env("WORKER_DRAIN_SECONDS", 60.0, "time running jobs get at shutdown", ge=0)
    reaper_interval_seconds: float = _env("WORKER_REAPER_INTERVAL_SECONDS", 30.0, "reaper period; 0 turns it off", ge=0)
    reap_grace_seconds: float | None = _env(
        "WORKER_REAP_GRACE_SECONDS", None, "time past lease expiry before reaping; unset: the lease", ge=0
    )
    relay_retry_seconds: float = _env("WORKER_RELAY_RETRY_SECONDS", 30.0, "outbox resend interval", gt=0)
    ack_flush_seconds: float = _env("WORKER_ACK_FLUSH_SECONDS", 1.0, "longest wait to fill a delete batch", gt=0)
    metrics_port: int | None = _env(
        "WORKER_METRICS_PORT", None, "serve Prometheus /metrics on this port", ge=1, le=65535
    )
    lifecycle_hook_name: str | None = _env("WORKER_LIFECYCLE_HOOK_NAME", None, "termination lifecycle hook to complete")
    asg_name: str | None = _env("WORKER_ASG_NAME", None, "the worker's Auto Scaling group (with the hook)")
    imds_endpoint: str = _env("WORKER_IMDS_ENDPOINT", "http://169.254.169.254", "instance metadata service")
    lifecycle_poll_seconds: float = _env("WORKER_LIFECYCLE_POLL_SECONDS", 5.0, "lifecycle-state poll interval", gt=0)

    @pydantic.field_validator("lifecycle_hook_name", "asg_name", "database_secret_arn")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value or None

    @property
    def type_modules(self) -> list[str]:
        """``JOB_TYPE_MODULES`` as a list."""
        return [name.strip() for name in self.job_type_modules.split(",") if name.strip()]

    def worker_config(self) -> WorkerConfig:
        """The :class:`WorkerConfig` these settings describe; ``ValueError`` for inconsistent values."""
        values = self.model_dump(include=_CONFIG_FIELDS)
        values["handler_modules"] = tuple(name.strip() for name in self.handler_modules.split(",") if name.strip())
        return WorkerConfig(**values)


_ENV_NAMES = env_names(WorkerSettings)


def load_settings(**overrides: Any) -> tuple[WorkerSettings, WorkerConfig]:
    """Read the settings from the environment (``overrides`` win) and derive the worker config.

    Raises :class:`SettingsError` with one line naming each bad setting.
    """
    settings = read_settings(WorkerSettings, **overrides)
    try:
        return settings, settings.worker_config()
    except ValueError as error:
        raise SettingsError(f"inconsistent worker settings: {_with_env_names(str(error))}") from None


def settings_help() -> str:
    """One line per environment variable: name, default and meaning (for ``--help``)."""
    lines = []
    for name, field in WorkerSettings.model_fields.items():
        if field.is_required():
            default = "required"
        elif field.default_factory is not None:
            default = "default <hostname>-<pid>"
        else:
            default = "unset by default" if field.default is None else f"default {field.default!r}"
        lines.append(f"  {_ENV_NAMES[name]:<34} {field.description} ({default})")
    return "\n".join(lines)


def _with_env_names(message: str) -> str:
    for name, env in sorted(_ENV_NAMES.items(), key=lambda pair: -len(pair[0])):
        message = message.replace(name, env)
    return message
