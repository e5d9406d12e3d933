"""The job tables and their versioned migrations (applied by ``services.db.migrate``).

- ``jobs``: one row per job, the record of its state. Every transition is a conditional
  UPDATE on this row, so duplicate deliveries can never complete a job twice.
- ``job_outbox``: jobs accepted but not yet known to be on the queue; the relay sends them.
- ``job_stats``: the aggregate the off-peak ``precompute`` job rebuilds.

Times are stored as naive UTC (microsecond precision on every backend) and read back aware.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from services.db import Migration

COMPONENT: Final = "jobs"


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timestamp bound as naive UTC and returned as aware UTC (DATETIME(6) on MySQL)."""

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "mysql":
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(sa.DateTime())

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"timestamps must be timezone-aware, got {value!r}")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


metadata = sa.MetaData()

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("idempotency_key", sa.String(200), unique=True),
    sa.Column("lease_owner", sa.String(200)),
    sa.Column("lease_expires_at", UTCDateTime),
    sa.Column("result", sa.JSON(none_as_null=True)),
    sa.Column("error", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("started_at", UTCDateTime),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("run_ms", sa.Integer),
    sa.Index("ix_jobs_status_lease", "status", "lease_expires_at"),
    sa.Index("ix_jobs_finished_at", "finished_at"),
)

job_outbox = sa.Table(
    "job_outbox",
    metadata,
    sa.Column("job_id", sa.String(36), sa.ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False, index=True),
    sa.Column("sends", sa.Integer, nullable=False, default=0),
)

job_stats = sa.Table(
    "job_stats",
    metadata,
    sa.Column("type", sa.String(64), primary_key=True),
    sa.Column("window_start", UTCDateTime, nullable=False),
    sa.Column("window_end", UTCDateTime, nullable=False),
    sa.Column("total", sa.Integer, nullable=False),
    sa.Column("succeeded", sa.Integer, nullable=False),
    sa.Column("failed", sa.Integer, nullable=False),
    sa.Column("avg_run_ms", sa.Float),
    sa.Column("max_run_ms", sa.Integer),
    sa.Column("computed_at", UTCDateTime, nullable=False),
)


def _v1_create_tables(conn: sa.Connection) -> None:
    # Version 1 is the tables as defined above. A later change to them must be a new step
    # (ALTER ...), and this step must then be frozen to the version-1 definitions.
    metadata.create_all(conn, tables=[jobs, job_outbox, job_stats])


MIGRATIONS: Final[tuple[Migration, ...]] = (_v1_create_tables,)
"""The ordered schema steps of the ``jobs`` component; the database records how many ran."""
