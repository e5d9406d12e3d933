"""Count what a worker costs: AWS API calls (botocore events) and database round trips
(SQLAlchemy events). Used by scripts/bench_worker.py and by tests that guard the batching
(pytest puts scripts/ on the path, as running a script does).

Round trips are counted honestly, not just statements: each executed statement, each
connection pre-ping on checkout, and the BEGIN/COMMIT of a transaction where the driver
sends them (psycopg sends both; PyMySQL only COMMIT; SQLite has no network at all).
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import sqlalchemy as sa
from botocore.client import BaseClient


class AwsCallCounter:
    """Counts the API operations a boto3 client makes (every attempt, retries included)."""

    def __init__(self, client: BaseClient) -> None:
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._client = client
        client.meta.events.register("before-call.*.*", self._count)

    def _count(self, model: Any, **_kwargs: Any) -> None:
        with self._lock:
            self.calls[model.name] += 1

    @property
    def total(self) -> int:
        """Every call counted so far."""
        with self._lock:
            return sum(self.calls.values())

    def reset(self) -> None:
        """Start counting from zero."""
        with self._lock:
            self.calls.clear()

    def close(self) -> None:
        """Stop counting."""
        self._client.meta.events.unregister("before-call.*.*", self._count)


class RoundTripCounter:
    """Counts database round trips made through ``engines`` (see the module doc)."""

    def __init__(self, *engines: sa.Engine) -> None:
        self.statements = 0
        self.transaction_control = 0
        self.pings = 0
        self._lock = threading.Lock()
        self._listeners: list[tuple[Any, str, Any]] = []
        for engine in engines:
            self._listen(engine, "before_cursor_execute", self._on_statement)
            self._listen(engine, "commit", self._on_end)
            self._listen(engine, "rollback", self._on_end)
            if getattr(engine.pool, "_pre_ping", False):
                self._listen(engine.pool, "checkout", self._on_checkout)
                self._listen(engine.pool, "connect", self._on_connect)

    def _listen(self, target: Any, name: str, fn: Any) -> None:
        if not sa.event.contains(target, name, fn):
            sa.event.listen(target, name, fn)
            self._listeners.append((target, name, fn))

    def _on_statement(self, *_args: Any, **_kwargs: Any) -> None:
        with self._lock:
            self.statements += 1

    def _on_end(self, conn: sa.Connection) -> None:
        dbapi = conn.connection.dbapi_connection
        trips = _transaction_trips(conn.dialect.name, dbapi)
        with self._lock:
            self.transaction_control += trips

    def _on_checkout(self, *_args: Any) -> None:
        with self._lock:
            self.pings += 1  # pre-ping; a fresh connection's first checkout is taken back in _on_connect

    def _on_connect(self, *_args: Any) -> None:
        with self._lock:
            self.pings -= 1

    @property
    def total(self) -> int:
        """Statements + pings + transaction control."""
        with self._lock:
            return self.statements + self.transaction_control + max(self.pings, 0)

    def reset(self) -> None:
        """Start counting from zero."""
        with self._lock:
            self.statements = self.transaction_control = self.pings = 0

    def close(self) -> None:
        """Stop counting."""
        for target, name, fn in self._listeners:
            sa.event.remove(target, name, fn)
        self._listeners.clear()


def _transaction_trips(dialect: str, dbapi: Any) -> int:
    if dialect == "postgresql":
        from psycopg.pq import TransactionStatus

        return 2 if dbapi.info.transaction_status != TransactionStatus.IDLE else 0
    if dialect == "mysql":
        return 0 if dbapi.get_autocommit() else 1
    return 0
