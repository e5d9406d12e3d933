"""The job store: the database record of every job and each of its state transitions.

Every transition after creation is a conditional UPDATE that names the state it expects
(and, while a job runs, the claim token that holds its lease), so two workers that got the
same message, or a worker whose lease expired, can never both complete a job: the loser's
UPDATE matches no row. Single statements run on an autocommit connection (one round trip
each); a completion that writes side effects runs them in the same transaction, so they are
kept only if the completion won.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import sqlalchemy as sa

from services.db import check_schema, make_engine, migrate, normalise_url, sibling_engine
from services.jobs.model import IdempotencyConflictError, Job, JobStatus, JobTypeStats
from services.jobs.outbox import Outbox
from services.jobs.schema import COMPONENT, MIGRATIONS, jobs
from services.jobs.stats import read_job_stats, rebuild_job_stats

Clock = Callable[[], datetime]
Effect = Callable[[sa.Connection], object]
"""A database write a handler stages; it runs in the transaction that records the job's success."""

DEFAULT_DATABASE_URL = "sqlite:///.local/app.db"
"""The embedded default: a SQLite file under ``.local/`` (created on first use)."""

_CLAIMABLE = (JobStatus.QUEUED, JobStatus.RETRYING)
_MAX_ERROR_CHARS = 4000


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class JobStore:
    """Jobs in a SQL database (SQLite, PostgreSQL or MySQL), safe to share between processes.

    ``JobStore(engine)`` uses an engine you own and, unless ``migrate=False``, brings the
    schema up to date (idempotent, under a cross-process lock). ``JobStore.from_url(url)``
    creates the engine too. Call :meth:`close` (or use the store as a context manager) to
    release what the store created. Thread-safe: methods take connections from the pool.
    """

    def __init__(self, engine: sa.Engine, *, migrate: bool = True, clock: Clock = utcnow) -> None:
        self._engine = engine
        self._clock = clock
        self._owned: list[sa.Engine] = []
        self._auto = self._autocommit_engine(engine)
        self._returning = engine.dialect.update_returning
        if migrate:
            self.migrate()
        self.outbox = Outbox(self._auto, clock=clock)
        """The transactional outbox: jobs accepted but not yet known to be on the queue."""

    @classmethod
    def from_url(cls, url: str, *, clock: Clock = utcnow, **engine_options: Any) -> JobStore:
        """Open the database at ``url`` (creating a SQLite file's directory) and migrate it.

        Raises ``services.db.DatabaseURLError`` for an unusable URL.
        """
        parsed = normalise_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(str(parsed.database)).parent.mkdir(parents=True, exist_ok=True)
        engine = make_engine(url, **engine_options)
        try:
            store = cls(engine, clock=clock)
        except BaseException:
            engine.dispose()
            raise
        store._owned.append(engine)
        return store

    def _autocommit_engine(self, engine: sa.Engine) -> sa.Engine:
        if engine.dialect.name == "mysql":
            # PyMySQL switches autocommit with a round trip per checkout; a pool of its own doesn't.
            size = getattr(engine.pool, "size", lambda: 5)()
            auto = sibling_engine(engine, isolation_level="AUTOCOMMIT", pool_size=size)
            self._owned.append(auto)
            return auto
        return engine.execution_options(isolation_level="AUTOCOMMIT")

    @property
    def engine(self) -> sa.Engine:
        """The engine the store writes through."""
        return self._engine

    @property
    def engines(self) -> tuple[sa.Engine, ...]:
        """Every engine the store uses (with its own pool for autocommit statements on MySQL)."""
        return (self._engine, *(e for e in self._owned if e is not self._engine))

    def migrate(self) -> int:
        """Create or upgrade the job tables; return the schema version."""
        return migrate(self._engine, COMPONENT, MIGRATIONS)

    def check_schema(self) -> int:
        """The job schema version; ``SchemaVersionError`` unless it is this code's (nothing is changed)."""
        return check_schema(self._engine, COMPONENT, MIGRATIONS)

    def close(self) -> None:
        """Dispose of the engines this store created (not one passed to the constructor)."""
        for engine in reversed(self._owned):
            engine.dispose()
        self._owned.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    # ---- creation and reading -------------------------------------------------------------

    def create(
        self,
        job_type: str,
        payload: Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
        outbox_after: float | None = None,
    ) -> tuple[Job, bool]:
        """Record a new ``queued`` job; return it and True, or the job this key made before and False.

        With ``outbox_after`` set, the job is also put in the outbox in the same transaction,
        due for the relay that many seconds from now.
        Raises :class:`IdempotencyConflictError` when the key exists for a different type or payload.
        """
        now = self._clock()
        row: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "type": job_type,
            "payload": dict(payload),
            "status": JobStatus.QUEUED.value,
            "attempts": 0,
            "idempotency_key": idempotency_key,
            "created_at": now,
            "updated_at": now,
        }
        try:
            with self._engine.begin() as conn:
                conn.execute(sa.insert(jobs).values(row))
                if outbox_after is not None:
                    self.outbox.add(conn, row["id"], now, due=now + timedelta(seconds=outbox_after))
        except sa.exc.IntegrityError:
            existing = self.get_by_key(idempotency_key) if idempotency_key is not None else None
            if existing is None:
                raise
            if existing.type != job_type or existing.payload != dict(payload):
                raise IdempotencyConflictError(
                    f"idempotency key {idempotency_key!r} was used for job {existing.id} "
                    f"of type {existing.type!r} with a different payload"
                ) from None
            return existing, False
        return _job(row | _NULLS), True

    def get(self, job_id: str) -> Job | None:
        """The job with this id, or None."""
        with self._auto.connect() as conn:
            row = conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).mappings().first()
        return _job(row) if row else None

    def get_by_key(self, idempotency_key: str) -> Job | None:
        """The job created with this idempotency key, or None."""
        with self._auto.connect() as conn:
            row = conn.execute(sa.select(jobs).where(jobs.c.idempotency_key == idempotency_key)).mappings().first()
        return _job(row) if row else None

    def get_many(self, job_ids: Collection[str]) -> dict[str, Job]:
        """The jobs with these ids that exist, by id."""
        if not job_ids:
            return {}
        with self._auto.connect() as conn:
            rows = conn.execute(sa.select(jobs).where(jobs.c.id.in_(list(job_ids)))).mappings()
            return {row["id"]: _job(row) for row in rows}

    def count_by_status(self) -> dict[JobStatus, int]:
        """How many jobs are in each status (every status present, zero if none)."""
        counts = dict.fromkeys(JobStatus, 0)
        with self._auto.connect() as conn:
            for status, count in conn.execute(sa.select(jobs.c.status, sa.func.count()).group_by(jobs.c.status)):
                counts[JobStatus(status)] = count
        return counts

    def rebuild_job_stats(self, *, window_seconds: float) -> list[JobTypeStats]:
        """Recompute the per-type aggregate over the last ``window_seconds`` (one transaction)."""
        with self._engine.begin() as conn:
            return rebuild_job_stats(conn, now=self._clock(), window_seconds=window_seconds)

    def job_stats(self) -> list[JobTypeStats]:
        """The per-type aggregate the ``precompute`` job last rebuilt, by type name."""
        with self._auto.connect() as conn:
            return read_job_stats(conn)

    # ---- transitions (worker side) --------------------------------------------------------

    def claim(
        self,
        job_ids: Collection[str],
        *,
        owner: str,
        lease_seconds: float,
        redrive: Collection[str] = (),
    ) -> dict[str, Job]:
        """Try to lease these jobs to ``owner``; return the current row of each that exists.

        A job is claimed (status ``running``, ``lease_owner == owner``, attempts + 1) when it
        is queued or retrying, when it runs under a lease that has expired (its worker died),
        or — for the ids in ``redrive`` (messages delivered for the first time) — when it has
        failed, so a dead-letter redrive runs it again. One statement for the whole batch.
        """
        if not job_ids:
            return {}
        now = self._clock()
        ids = list(job_ids)
        claimable = sa.or_(
            jobs.c.status.in_([s.value for s in _CLAIMABLE]),
            sa.and_(jobs.c.status == JobStatus.RUNNING.value, jobs.c.lease_expires_at < now),
        )
        if redrive:
            claimable = sa.or_(
                claimable, sa.and_(jobs.c.status == JobStatus.FAILED.value, jobs.c.id.in_(list(redrive)))
            )
        update = (
            sa.update(jobs)
            .where(jobs.c.id.in_(ids), claimable)
            .values(
                status=JobStatus.RUNNING.value,
                attempts=jobs.c.attempts + 1,
                lease_owner=owner,
                lease_expires_at=now + timedelta(seconds=lease_seconds),
                started_at=now,
                finished_at=None,
                updated_at=now,
            )
        )
        with self._auto.connect() as conn:
            if self._returning:
                found = {row["id"]: _job(row) for row in conn.execute(update.returning(*jobs.c)).mappings()}
                rest = [job_id for job_id in ids if job_id not in found]
            else:
                conn.execute(update)
                found, rest = {}, ids
            if rest:
                for row in conn.execute(sa.select(jobs).where(jobs.c.id.in_(rest))).mappings():
                    found[row["id"]] = _job(row)
        return found

    def renew(self, job_ids: Collection[str], *, owner: str, lease_seconds: float) -> set[str]:
        """Extend the leases ``owner`` holds on these jobs; return the ids it no longer holds."""
        if not job_ids:
            return set()
        held = sa.and_(
            jobs.c.id.in_(list(job_ids)), jobs.c.lease_owner == owner, jobs.c.status == JobStatus.RUNNING.value
        )
        now = self._clock()
        with self._auto.connect() as conn:
            renewed = conn.execute(
                sa.update(jobs).where(held).values(lease_expires_at=now + timedelta(seconds=lease_seconds))
            ).rowcount
            if renewed == len(job_ids):
                return set()
            still = set(conn.execute(sa.select(jobs.c.id).where(held)).scalars())
        return set(job_ids) - still

    def complete(self, job_id: str, *, owner: str, result: Any, run_ms: int, effects: Sequence[Effect] = ()) -> bool:
        """Record success if ``owner`` still holds the job; run ``effects`` in the same transaction.

        Returns False (and writes nothing, effects included) when the claim was lost.
        """
        now = self._clock()
        update = self._held_update(job_id, owner).values(
            status=JobStatus.SUCCEEDED.value,
            result=result,
            error=None,
            finished_at=now,
            run_ms=run_ms,
            updated_at=now,
            lease_owner=None,
            lease_expires_at=None,
        )
        if not effects:
            with self._auto.connect() as conn:
                return conn.execute(update).rowcount == 1
        with self._engine.connect() as conn:
            with conn.begin() as transaction:
                if conn.execute(update).rowcount != 1:
                    transaction.rollback()
                    return False
                for effect in effects:
                    effect(conn)
            return True

    def retry(self, job_id: str, *, owner: str, error: str) -> bool:
        """Record a failed attempt that will be retried (status ``retrying``); False if the claim was lost."""
        return self._transition(job_id, owner, status=JobStatus.RETRYING, error=_clip(error))

    def fail(self, job_id: str, *, owner: str, error: str, run_ms: int | None = None) -> bool:
        """Record the final failure (status ``failed``); False if the claim was lost."""
        now = self._clock()
        return self._transition(
            job_id, owner, status=JobStatus.FAILED, error=_clip(error), finished_at=now, run_ms=run_ms
        )

    def release(self, job_ids: Collection[str], *, owner: str, started: bool) -> int:
        """Give up jobs ``owner`` holds, so another worker can claim them at once; return how many.

        Jobs that never started get their attempt back (``queued`` again if it was the first);
        started ones keep the attempt and become ``retrying``.
        """
        if not job_ids:
            return 0
        values: dict[str, Any] = {"lease_owner": None, "lease_expires_at": None, "updated_at": self._clock()}
        if started:
            values["status"] = JobStatus.RETRYING.value
        else:
            values["attempts"] = jobs.c.attempts - 1
            values["status"] = sa.case((jobs.c.attempts <= 1, JobStatus.QUEUED.value), else_=JobStatus.RETRYING.value)
        update = (
            sa.update(jobs)
            .where(jobs.c.id.in_(list(job_ids)), jobs.c.lease_owner == owner, jobs.c.status == JobStatus.RUNNING.value)
            .values(values)
        )
        with self._auto.connect() as conn:
            return conn.execute(update).rowcount

    def requeue_expired(self, *, grace_seconds: float, max_attempts: int, limit: int = 100) -> dict[str, JobStatus]:
        """Recover jobs whose worker died: leases expired more than ``grace_seconds`` ago.

        Each such job goes back to ``retrying`` with an outbox entry (the relay sends a fresh
        message), or to ``failed`` once it has had ``max_attempts``. Safe to run on every
        worker at once: each job is recovered by exactly one of them. Returns id → new status.
        """
        now = self._clock()
        cutoff = now - timedelta(seconds=grace_seconds)
        with self._auto.connect() as conn:
            expired = conn.execute(
                sa.select(jobs.c.id, jobs.c.attempts, jobs.c.lease_owner, jobs.c.lease_expires_at)
                .where(jobs.c.status == JobStatus.RUNNING.value, jobs.c.lease_expires_at < cutoff)
                .order_by(jobs.c.lease_expires_at)
                .limit(limit)
            ).all()
        recovered: dict[str, JobStatus] = {}
        for job_id, attempts, owner, expired_at in expired:
            status = JobStatus.FAILED if attempts >= max_attempts else JobStatus.RETRYING
            error = (
                f"lease of {owner} expired at {expired_at.isoformat()} during attempt {attempts}: worker presumed dead"
            )
            update = (
                sa.update(jobs)
                .where(
                    jobs.c.id == job_id,
                    jobs.c.status == JobStatus.RUNNING.value,
                    jobs.c.lease_owner == owner,
                    jobs.c.lease_expires_at < cutoff,
                )
                .values(
                    status=status.value,
                    error=error,
                    lease_owner=None,
                    lease_expires_at=None,
                    updated_at=now,
                    finished_at=now if status is JobStatus.FAILED else None,
                )
            )
            with self._engine.begin() as conn:
                if conn.execute(update).rowcount != 1:
                    continue
                if status is JobStatus.RETRYING:
                    self.outbox.make_due(conn, job_id, now)
            recovered[job_id] = status
        return recovered

    def _held_update(self, job_id: str, owner: str) -> sa.Update:
        return sa.update(jobs).where(
            jobs.c.id == job_id, jobs.c.lease_owner == owner, jobs.c.status == JobStatus.RUNNING.value
        )

    def _transition(self, job_id: str, owner: str, *, status: JobStatus, **values: Any) -> bool:
        update = self._held_update(job_id, owner).values(
            status=status.value, updated_at=self._clock(), lease_owner=None, lease_expires_at=None, **values
        )
        with self._auto.connect() as conn:
            return conn.execute(update).rowcount == 1


_NULLS: dict[str, Any] = {
    "lease_owner": None,
    "lease_expires_at": None,
    "result": None,
    "error": None,
    "started_at": None,
    "finished_at": None,
    "run_ms": None,
}


def _job(row: Mapping[Any, Any]) -> Job:
    return Job(
        id=row["id"],
        type=row["type"],
        payload=row["payload"],
        status=JobStatus(row["status"]),
        attempts=row["attempts"],
        result=row["result"],
        error=row["error"],
        idempotency_key=row["idempotency_key"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        run_ms=row["run_ms"],
        lease_owner=row["lease_owner"],
        lease_expires_at=row["lease_expires_at"],
    )


def _clip(error: str) -> str:
    return error if len(error) <= _MAX_ERROR_CHARS else error[: _MAX_ERROR_CHARS - 1] + "…"
