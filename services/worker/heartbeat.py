"""The heartbeat: while a worker holds a message, keep it hidden and keep its job's lease.

Every ``interval`` seconds each held message gets its visibility set to ``visibility``
seconds from now (ChangeMessageVisibilityBatch, ten per call) and each claimed job's lease
is renewed — the SQS guide's advice (extend by about 2 minutes every minute) with the
project's defaults. A worker that dies stops heartbeating: its messages reappear and its
leases expire, and another worker takes the jobs over.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import TYPE_CHECKING

import structlog
from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy.exc import SQLAlchemyError

from services.jobs import JobStore
from services.worker.inflight import Held, Inflight
from services.worker.periodic import Periodic

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

_log = structlog.get_logger(__name__)


class Heartbeat(Periodic):
    """A thread extending the visibility and leases of everything an :class:`Inflight` holds."""

    def __init__(
        self,
        *,
        sqs: SQSClient,
        queue_url: str,
        store: JobStore,
        inflight: Inflight,
        interval: float,
        visibility: int,
        lease_seconds: float,
    ) -> None:
        super().__init__("heartbeat")
        self._sqs = sqs
        self._queue_url = queue_url
        self._store = store
        self._inflight = inflight
        self._interval = interval
        self._visibility = visibility
        self._lease = lease_seconds
        self.beats = 0
        """How many messages' visibility this heartbeat extended (for tests)."""

    def period(self) -> float:
        """Look often (a quarter interval, at most 1 s); each message is extended once per interval."""
        return min(1.0, self._interval / 4)

    def tick(self) -> None:
        """Extend every held message whose last extension is ``interval`` old, then renew leases."""
        now = time.monotonic()
        # Under the lock, so nothing is settled (and released) between the choice and the call.
        with self._inflight.frozen() as held:
            due = [h for h in held() if now - h.extended_at >= self._interval]
            extended = self._extend(due, now)
        by_owner: dict[str, list[Held]] = defaultdict(list)
        for item in extended:
            if item.owner is not None and item.job_id is not None:
                by_owner[item.owner].append(item)
        for owner, items in by_owner.items():
            try:
                lost = self._store.renew([h.job_id for h in items if h.job_id], owner=owner, lease_seconds=self._lease)
            except SQLAlchemyError as error:
                _log.warning("lease renewal failed", error=str(error), owner=owner)
                continue
            for job_id in lost:
                _log.warning("lease lost while running", job_id=job_id, owner=owner)

    def _extend(self, due: list[Held], now: float) -> list[Held]:
        extended: list[Held] = []
        for start in range(0, len(due), 10):
            chunk = due[start : start + 10]
            try:
                response = self._sqs.change_message_visibility_batch(
                    QueueUrl=self._queue_url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": h.receipt, "VisibilityTimeout": self._visibility}
                        for i, h in enumerate(chunk)
                    ],
                )
            except (BotoCoreError, ClientError) as error:
                _log.warning("visibility heartbeat failed", error=str(error), count=len(chunk))
                continue
            failed = {int(f["Id"]) for f in response.get("Failed", [])}
            for f in response.get("Failed", []):
                _log.warning("visibility heartbeat refused", code=f["Code"], job_id=chunk[int(f["Id"])].job_id)
            for i, item in enumerate(chunk):
                if i not in failed:
                    item.extended_at = now
                    extended.append(item)
        self.beats += len(extended)
        return extended
