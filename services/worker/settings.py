"""The worker's settings, read once from the environment at start (pydantic-settings).

Field ``worker_concurrency`` is the variable ``WORKER_CONCURRENCY`` (any case): every
setting, its default and its checks are declared here once, and the worker reads this
object. The queue defaults come from :data:`services.jobs.spec.QUEUE`, the values the CDK
stack and the local system size the queue with. A missing or invalid setting stops the
worker with one line naming it: see :func:`load_settings`.
"""

from __future__ import annotations

import os
import socket
from typing import Any, Self

import pydantic
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.db_settings import DatabaseSettings
from services.items.redis_settings import RedisSettings
from services.jobs.spec import QUEUE
from services.settings import LogLevel, read_settings

MAX_VISIBILITY_SECONDS = 12 * 3600
"""SQS's longest visibility timeout (and so the longest useful backoff)."""


def default_worker_id() -> str:
    """``<hostname>-<pid>``: unique per process on a fleet of instances."""
    return f"{socket.gethostname()}-{os.getpid()}"


class WorkerSettings(RedisSettings, DatabaseSettings):
    """Everything ``python -m services.worker`` reads from its environment. Field ``x_y`` is variable ``X_Y``.

    The ``REDIS_*`` variables, which the ``warm_item_cache`` precompute step uses, come from
    :class:`~services.items.redis_settings.RedisSettings`.

    A worker holds at most ``worker_concurrency + worker_batch_size`` messages: the ones
    running and one batch waiting. Every held message has its visibility extended (and its
    job's lease renewed) every ``worker_heartbeat_seconds``, so a job runs as long as it
    needs while its worker lives, and reappears within ``worker_visibility_timeout_seconds``
    when the worker dies.
    """

    # validate_default: the defaults taken from the queue spec pass the same checks as any value
    model_config = SettingsConfigDict(validate_default=True)

    queue_url: str = Field(min_length=1, description="the SQS job queue (its redrive policy names the DLQ)")
    log_level: LogLevel = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR")
    log_json: bool = Field(default=True, description="JSON lines (true) or console text (false)")
    job_type_modules: str = Field(
        default="", description="extra job type (contract) modules, comma-separated: the API's JOB_TYPE_MODULES"
    )
    job_handler_modules: str = Field(
        default="", description="extra handler modules to import, comma-separated: handlers of those types"
    )
    worker_id: str = Field(default_factory=default_worker_id, min_length=1, description="this worker's name")
    worker_concurrency: int = Field(default=10, ge=1, le=512, description="jobs run at once (threads)")
    worker_batch_size: int = Field(
        default=QUEUE.batch_size, ge=1, le=10, description="messages per receive and per ack batch"
    )
    worker_receive_wait_seconds: int = Field(
        default=QUEUE.receive_wait_seconds,
        ge=0,
        le=20,
        description="long poll; 0 short-polls, pausing 0.1 s when empty",
    )
    worker_visibility_timeout_seconds: int = Field(
        default=QUEUE.visibility_timeout_seconds,
        ge=1,
        le=MAX_VISIBILITY_SECONDS,
        description="visibility set at receive and by each heartbeat",
    )
    worker_heartbeat_seconds: float = Field(default=QUEUE.heartbeat_seconds, gt=0, description="heartbeat interval")
    worker_lease_seconds: float = Field(default=QUEUE.visibility_timeout_seconds, gt=0, description="job lease")
    worker_max_receive_count: int | None = Field(
        default=None, ge=1, le=1000, description="attempts per message; unset: the queue's redrive policy's"
    )
    worker_backoff_base_seconds: float = Field(default=2.0, gt=0, description="first retry delay (ceiling)")
    worker_backoff_max_seconds: float = Field(
        default=300.0, gt=0, le=MAX_VISIBILITY_SECONDS, description="longest retry delay (ceiling)"
    )
    worker_drain_seconds: float = Field(default=60.0, ge=0, description="time running jobs get at shutdown")
    worker_reaper_interval_seconds: float = Field(
        default=30.0, ge=0, description="how often to requeue dead workers' jobs and resend the outbox; 0 turns it off"
    )
    worker_reap_grace_seconds: float | None = Field(
        default=None, ge=0, description="time past lease expiry before a job counts as abandoned; unset: the lease"
    )
    worker_relay_retry_seconds: float = Field(default=30.0, gt=0, description="outbox resend interval")
    worker_ack_flush_seconds: float = Field(default=1.0, gt=0, description="longest wait to fill a delete batch")
    worker_metrics_port: int | None = Field(
        default=None, ge=1, le=65535, description="serve Prometheus /metrics on this port"
    )
    worker_lifecycle_hook_name: str | None = Field(default=None, description="termination lifecycle hook to complete")
    worker_asg_name: str | None = Field(default=None, description="the worker's Auto Scaling group (with the hook)")
    worker_imds_endpoint: str = Field(default="http://169.254.169.254", description="instance metadata service")
    worker_lifecycle_poll_seconds: float = Field(default=5.0, gt=0, description="lifecycle-state poll interval")

    @pydantic.field_validator("worker_lifecycle_hook_name", "worker_asg_name")
    @classmethod
    def _blank_name_is_unset(cls, value: str | None) -> str | None:
        return value or None

    @pydantic.model_validator(mode="after")
    def _consistent(self) -> Self:
        problems = []
        if self.worker_heartbeat_seconds >= self.worker_visibility_timeout_seconds:
            problems.append(
                "WORKER_HEARTBEAT_SECONDS must be below WORKER_VISIBILITY_TIMEOUT_SECONDS "
                f"(got {self.worker_heartbeat_seconds} and {self.worker_visibility_timeout_seconds})"
            )
        if self.worker_heartbeat_seconds >= self.worker_lease_seconds:
            problems.append(
                "WORKER_HEARTBEAT_SECONDS must be below WORKER_LEASE_SECONDS "
                f"(got {self.worker_heartbeat_seconds} and {self.worker_lease_seconds})"
            )
        if self.worker_backoff_base_seconds > self.worker_backoff_max_seconds:
            problems.append(
                "WORKER_BACKOFF_BASE_SECONDS must be at most WORKER_BACKOFF_MAX_SECONDS "
                f"(got {self.worker_backoff_base_seconds} and {self.worker_backoff_max_seconds})"
            )
        if (self.worker_lifecycle_hook_name is None) != (self.worker_asg_name is None):
            problems.append("WORKER_LIFECYCLE_HOOK_NAME and WORKER_ASG_NAME must be set together (or neither)")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def type_modules(self) -> list[str]:
        """``JOB_TYPE_MODULES`` as a list."""
        return [name.strip() for name in self.job_type_modules.split(",") if name.strip()]

    @property
    def handler_modules(self) -> tuple[str, ...]:
        """``JOB_HANDLER_MODULES`` as module names."""
        return tuple(name.strip() for name in self.job_handler_modules.split(",") if name.strip())

    @property
    def reap_grace(self) -> float:
        """Seconds after lease expiry before the reaper takes a job back."""
        return self.worker_lease_seconds if self.worker_reap_grace_seconds is None else self.worker_reap_grace_seconds

    @property
    def lifecycle_enabled(self) -> bool:
        """True when the worker should follow its instance's termination lifecycle hook."""
        return self.worker_lifecycle_hook_name is not None


def load_settings(**overrides: Any) -> WorkerSettings:
    """Read the settings from the environment (``overrides``, by field name, win).

    Raises :class:`services.settings.SettingsError` with one line naming each bad setting.
    """
    return read_settings(WorkerSettings, **overrides)


def settings_help(settings: type[BaseSettings] = WorkerSettings) -> str:
    """One line per environment variable of ``settings``: name, meaning and default (for ``--help``)."""
    lines = []
    for name, field in settings.model_fields.items():
        if field.is_required():
            default = "required"
        elif field.default_factory is not None:
            default = "default <hostname>-<pid>"
        else:
            default = "unset by default" if field.default is None else f"default {field.default!r}"
        lines.append(f"  {name.upper():<34} {field.description} ({default})")
    return "\n".join(lines)
