"""Acknowledgements to SQS, batched: deletes and visibility changes go out ten per call.

Deleting one message per call is where other SQS workers spend most of their API calls
(about 1.1 per job); batching brings a full-batch steady state to 0.2 (one receive and one
delete per ten jobs). A partial batch waits at most ``flush_seconds``. In single-message
mode (the benchmark's baseline) every acknowledgement is its own call.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

_log = structlog.get_logger(__name__)
_BATCH = 10
_TRIES = 3


@dataclass(slots=True)
class _Ack:
    receipt: str
    visibility: int | None  # None: delete
    queued_at: float
    tries: int = 0


class Acker:
    """Buffers acknowledgements and sends them from a thread of its own (see module doc)."""

    def __init__(self, sqs: SQSClient, queue_url: str, *, batched: bool, flush_seconds: float) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._batched = batched
        self._flush_seconds = flush_seconds
        self._changed = threading.Condition()
        self._pending: list[_Ack] = []
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="acker", daemon=True)

    def start(self) -> None:
        """Start the flushing thread."""
        if self._batched:
            self._thread.start()

    def delete(self, receipt: str) -> None:
        """Delete the message (its job is done)."""
        self._add(_Ack(receipt, None, time.monotonic()))

    def set_visibility(self, receipt: str, seconds: int) -> None:
        """Make the message visible again after ``seconds`` (0: at once)."""
        self._add(_Ack(receipt, seconds, time.monotonic()))

    def flush(self) -> None:
        """Send everything buffered now, in the caller's thread."""
        with self._changed:
            batch, self._pending = self._pending, []
        self._send(batch)

    def stop(self) -> None:
        """Flush what is left and stop the thread."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self.flush()

    def _add(self, ack: _Ack) -> None:
        with self._changed:
            immediate = not self._batched or self._stopping
            if not immediate:
                self._pending.append(ack)
                deleting = ack.visibility is None
                if sum((a.visibility is None) == deleting for a in self._pending) >= _BATCH:
                    self._changed.notify_all()
        if immediate:  # unbatched mode, or a straggler after stop(): send it now
            self._send([ack])

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._stopping and not (batch := self._take_ready()):
                    oldest = min((a.queued_at for a in self._pending), default=None)
                    wait = self._flush_seconds if oldest is None else oldest + self._flush_seconds - time.monotonic()
                    self._changed.wait(max(wait, 0.001))
                if self._stopping:
                    return
            self._send(batch)

    def _take_ready(self) -> list[_Ack]:
        """Remove and return whole batches of ten, and every entry of a kind whose oldest is due."""
        due = time.monotonic() - self._flush_seconds
        taken: list[_Ack] = []
        for deleting in (True, False):
            kind = [a for a in self._pending if (a.visibility is None) == deleting]
            if kind and kind[0].queued_at <= due:
                taken += kind
            else:
                taken += kind[: len(kind) - len(kind) % _BATCH]
        if taken:
            chosen = {id(a) for a in taken}
            self._pending = [a for a in self._pending if id(a) not in chosen]
        return taken

    def _send(self, acks: list[_Ack]) -> None:
        while acks:
            deletes = [a for a in acks if a.visibility is None]
            changes = [a for a in acks if a.visibility is not None]
            retry: list[_Ack] = []
            for start in range(0, len(deletes), _BATCH):
                retry += self._call(deletes[start : start + _BATCH])
            for start in range(0, len(changes), _BATCH):
                retry += self._call(changes[start : start + _BATCH])
            if retry and self._batched and not self._stopping:
                with self._changed:
                    self._pending.extend(retry)
                return
            acks = retry

    def _call(self, chunk: list[_Ack]) -> list[_Ack]:
        """Send one call for ``chunk``; return the entries worth trying again."""
        deleting = chunk[0].visibility is None
        try:
            if len(chunk) == 1 and not self._batched:
                if deleting:
                    self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=chunk[0].receipt)
                else:
                    self._sqs.change_message_visibility(
                        QueueUrl=self._queue_url,
                        ReceiptHandle=chunk[0].receipt,
                        VisibilityTimeout=chunk[0].visibility or 0,
                    )
                return []
            if deleting:
                response = self._sqs.delete_message_batch(
                    QueueUrl=self._queue_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": a.receipt} for i, a in enumerate(chunk)],
                )
            else:
                response = self._sqs.change_message_visibility_batch(
                    QueueUrl=self._queue_url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": a.receipt, "VisibilityTimeout": a.visibility or 0}
                        for i, a in enumerate(chunk)
                    ],
                )
        except (BotoCoreError, ClientError) as error:
            _log.warning("acknowledgement call failed", error=str(error), count=len(chunk), delete=deleting)
            return self._again(chunk)
        again: list[_Ack] = []
        for failed in response.get("Failed", []):
            ack = chunk[int(failed["Id"])]
            _log.warning("acknowledgement refused", code=failed["Code"], message=failed.get("Message"), delete=deleting)
            if not failed["SenderFault"]:
                again += self._again([ack])
        return again

    @staticmethod
    def _again(chunk: list[_Ack]) -> list[_Ack]:
        for ack in chunk:
            ack.tries += 1
        return [ack for ack in chunk if ack.tries < _TRIES]
