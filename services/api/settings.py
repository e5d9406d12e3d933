"""The API node's settings, read once from the environment at start (pydantic-settings).

Shared names (``DATABASE_URL``, ``QUEUE_URL``, ``LOG_LEVEL``, ``LOG_JSON``, ``JOB_TYPE_MODULES``
and the ``REDIS_*`` settings, declared once in :class:`~services.items.redis_settings.RedisSettings`)
are the ones the worker reads too; ``API_*`` are this service's own.
``python -m services.api --help`` lists every setting with its default. A bad value fails
at start with the setting's name and the value.
"""

from __future__ import annotations

import math
import os
import socket
from pathlib import Path
from typing import Any, Final, Literal

import pydantic
from pydantic import Field

from services.db_settings import DatabaseSettings
from services.items.redis_settings import RedisSettings
from services.routing.discovery import member_name, parse_member, parse_members
from services.settings import LogLevel, SettingsError, read_settings

__all__ = ["ApiSettings", "SettingsError", "load_settings", "primary_ipv4", "settings_table"]

MiB: Final = 1024 * 1024


class ApiSettings(RedisSettings, DatabaseSettings):
    """Everything an API node reads from its environment (the Redis and database settings included). Field ``x_y``
    is variable ``X_Y``."""

    queue_url: str | None = Field(None, description="SQS queue URL for jobs; unset disables POST /jobs (503)")
    job_type_modules: str = Field(
        "", description="extra job type (contract) modules, comma-separated: the types accepted beyond the shipped ones"
    )
    log_level: LogLevel = Field("INFO", description="DEBUG, INFO, WARNING or ERROR")
    log_json: bool = Field(True, description="JSON log lines (false: readable console lines)")

    api_host: str = Field("127.0.0.1", description="address to bind (0.0.0.0 on an instance behind the ALB)")
    api_port: int = Field(8080, ge=1, le=65535, description="port to listen on")
    api_node_id: str | None = Field(
        None,
        description="this node's ring member name, host:port as peers reach it "
        "(default: 127.0.0.1:API_PORT for static discovery, else primary IPv4:API_PEER_PORT)",
    )
    api_peer_port: int | None = Field(
        None, ge=1, le=65535, description="port peers listen on, for asg discovery (default API_PORT)"
    )
    api_discovery: Literal["static", "asg", "target-group"] = Field(
        "static", description="how peers are found: static, asg or target-group"
    )
    api_peers: str = Field("", description="static members, host:port comma-separated (default: this node alone)")
    api_peers_file: Path | None = Field(None, description="static members file, re-read on every refresh")
    api_asg_name: str | None = Field(None, description="web Auto Scaling group, for asg discovery")
    api_target_group_arn: str | None = Field(None, description="ALB target group ARN, for target-group discovery")
    api_discovery_interval_seconds: float = Field(5.0, gt=0, le=3600, description="membership refresh interval")
    api_discovery_run_dir: Path | None = Field(
        None,
        description="directory shared by the node's processes: one of them polls asg/target-group discovery "
        "and the others read its answer there (unset: every process polls)",
    )
    api_ring_vnodes: int = Field(512, ge=1, le=65536, description="ring points per node; the same on every node")
    api_cache_max_entries: int = Field(100_000, ge=1, description="local LRU: most entries")
    api_cache_max_bytes: int = Field(64 * MiB, ge=1024, description="local LRU: most bytes (keys + values)")
    api_cache_ttl_seconds: float = Field(300.0, gt=0, description="local LRU entry lifetime")
    api_hot_keys_max: int = Field(100_000, ge=1, description="hot-key sorted set: most keys kept")
    api_hot_keys_flush_seconds: float = Field(5.0, gt=0, description="how often read counts go to Redis")
    api_bounded_load_factor: float | None = Field(
        None, description="bounded-load factor c >= 1 for reads (unset: plain consistent hashing)"
    )
    api_forward_timeout_seconds: float = Field(0.5, gt=0, le=60, description="timeout of one forward to a peer")
    api_suspect_seconds: float = Field(5.0, ge=0, description="how long a failed peer is skipped before a retry")
    api_max_body_bytes: int = Field(MiB, ge=1024, description="largest request body; larger is 413")
    api_max_key_bytes: int = Field(250, ge=1, le=250, description="longest key in bytes (keys are ASCII)")
    api_keepalive_seconds: float = Field(65.0, gt=0, description="HTTP keep-alive; above the ALB's idle timeout (60)")
    api_workers: int | Literal["auto"] = Field(
        1,
        description="uvicorn worker processes sharing the port (one node): a number, or auto for one per CPU; "
        "with more than one, set PROMETHEUS_MULTIPROC_DIR so /metrics counts every process",
    )

    @pydantic.field_validator("api_peers")
    @classmethod
    def _peers_parse(cls, value: str) -> str:
        parse_members(value)
        return value

    @pydantic.field_validator("api_workers")
    @classmethod
    def _positive_workers(cls, value: int | str) -> int | str:
        if isinstance(value, int) and not 1 <= value <= 256:
            raise ValueError("must be auto or a number of processes 1..256")
        return value

    @pydantic.field_validator("api_node_id")
    @classmethod
    def _node_id_parses(cls, value: str | None) -> str | None:
        return None if value is None or not value.strip() else parse_member(value)

    @pydantic.field_validator("api_bounded_load_factor")
    @classmethod
    def _factor_at_least_one(cls, value: float | None) -> float | None:
        if value is not None and not (math.isfinite(value) and value >= 1):
            raise ValueError("must be a number >= 1 (or unset)")
        return value

    @pydantic.model_validator(mode="after")
    def _mode_has_its_parameters(self) -> ApiSettings:
        if self.api_discovery == "asg" and not self.api_asg_name:
            raise ValueError("API_DISCOVERY=asg needs API_ASG_NAME")
        if self.api_discovery == "target-group" and not self.api_target_group_arn:
            raise ValueError("API_DISCOVERY=target-group needs API_TARGET_GROUP_ARN")
        return self

    @property
    def peer_port(self) -> int:
        """The port peers listen on."""
        return self.api_peer_port or self.api_port

    @property
    def peers(self) -> list[str]:
        """The static members from ``API_PEERS``."""
        return parse_members(self.api_peers)

    @property
    def type_modules(self) -> list[str]:
        """``JOB_TYPE_MODULES`` as a list."""
        return [name.strip() for name in self.job_type_modules.split(",") if name.strip()]

    def worker_count(self) -> int:
        """``API_WORKERS`` as a number of processes (``auto``: one per CPU)."""
        if self.api_workers == "auto":
            return os.cpu_count() or 1
        return self.api_workers

    def node_id(self) -> str:
        """This node's member name: ``API_NODE_ID``, else derived from the discovery mode."""
        if self.api_node_id:
            return self.api_node_id
        if self.api_discovery == "static":
            return member_name("127.0.0.1", self.api_port)
        return member_name(primary_ipv4(), self.peer_port)


def primary_ipv4() -> str:
    """The address of the interface the default route uses (an instance's private IP).

    Connecting a UDP socket sends nothing; it only makes the kernel pick the source address.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
            return str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"


def load_settings(**overrides: Any) -> ApiSettings:
    """Read the settings from the environment (``overrides`` win, by field name).

    Raises :class:`SettingsError` naming every bad variable and its value.
    """
    return read_settings(ApiSettings, **overrides)


def settings_table() -> list[tuple[str, str, str]]:
    """Every setting as ``(VARIABLE, default, description)``, for ``--help``."""
    rows = []
    for name, field in ApiSettings.model_fields.items():
        default = field.default
        shown = "(unset)" if default in (None, "") else str(default)
        rows.append((name.upper(), shown, field.description or ""))
    return rows
