"""The per-type job aggregate: counts, success rate and run time over a recent window.

The off-peak ``precompute`` job rebuilds it in one transaction of its own (a rebuild replaces
the whole table, so running it again is harmless); readers such as the API get the last
complete rebuild from ``job_stats``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

import sqlalchemy as sa

from services.jobs.model import JobStatus, JobTypeStats
from services.jobs.schema import job_stats, jobs


def rebuild_job_stats(conn: sa.Connection, *, now: datetime, window_seconds: float) -> list[JobTypeStats]:
    """Replace ``job_stats`` with the jobs that finished in the ``window_seconds`` before ``now``.

    Run time figures (average and maximum ``run_ms``) cover succeeded jobs only.
    """
    start = now - timedelta(seconds=window_seconds)
    grouped = conn.execute(
        sa.select(
            jobs.c.type,
            jobs.c.status,
            sa.func.count(),
            sa.func.avg(jobs.c.run_ms),
            sa.func.max(jobs.c.run_ms),
        )
        .where(
            jobs.c.finished_at >= start,
            jobs.c.finished_at <= now,
            jobs.c.status.in_([JobStatus.SUCCEEDED.value, JobStatus.FAILED.value]),
        )
        .group_by(jobs.c.type, jobs.c.status)
    ).all()
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"succeeded": 0, "failed": 0})
    run_times: dict[str, tuple[float | None, int | None]] = {}
    for job_type, status, count, avg_ms, max_ms in grouped:
        counts[job_type][status] = count
        if status == JobStatus.SUCCEEDED.value:
            run_times[job_type] = (float(avg_ms) if avg_ms is not None else None, max_ms)
    rows = [
        JobTypeStats(
            type=job_type,
            window_start=start,
            window_end=now,
            total=by_status["succeeded"] + by_status["failed"],
            succeeded=by_status["succeeded"],
            failed=by_status["failed"],
            avg_run_ms=run_times.get(job_type, (None, None))[0],
            max_run_ms=run_times.get(job_type, (None, None))[1],
            computed_at=now,
        )
        for job_type, by_status in sorted(counts.items())
    ]
    conn.execute(sa.delete(job_stats))
    if rows:
        conn.execute(
            sa.insert(job_stats),
            [
                {
                    "type": row.type,
                    "window_start": row.window_start,
                    "window_end": row.window_end,
                    "total": row.total,
                    "succeeded": row.succeeded,
                    "failed": row.failed,
                    "avg_run_ms": row.avg_run_ms,
                    "max_run_ms": row.max_run_ms,
                    "computed_at": row.computed_at,
                }
                for row in rows
            ],
        )
    return rows


def read_job_stats(conn: sa.Connection) -> list[JobTypeStats]:
    """The aggregate as last rebuilt, ordered by type."""
    return [JobTypeStats(**row) for row in conn.execute(sa.select(job_stats).order_by(job_stats.c.type)).mappings()]
