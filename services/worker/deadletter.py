"""Dead-lettered messages: count, look at, and redrive them to the job queue.

Redrive uses SQS's own message-move task (StartMessageMoveTask) where the endpoint offers
it (and the caller's role may call it), and otherwise copies: receive from the DLQ, send to
the queue, delete from the DLQ
(a crash between send and delete leaves a duplicate, which the worker's claim makes
harmless). A redriven message is a new delivery (receive count 1), so the worker runs a
failed job again for it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import structlog
from botocore.exceptions import BotoCoreError, ClientError

from services.jobs.spec import MessageFormatError, parse_message_body

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef, SendMessageBatchRequestEntryTypeDef

_log = structlog.get_logger(__name__)
_UNSUPPORTED = {
    "UnsupportedOperation",
    "AWS.SimpleQueueService.UnsupportedOperation",
    "InvalidAction",
    "NotImplemented",
}
_DENIED = {"AccessDenied", "AccessDeniedException", "AWS.SimpleQueueService.AccessDenied"}

Method = Literal["auto", "move-task", "copy"]


class DeadLetterError(RuntimeError):
    """The dead-letter queue cannot be found or used; the text says why."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadMessage:
    """A message in the DLQ, with the job it carries when its body is a job message."""

    message_id: str
    body: str
    job_id: str | None
    type: str | None
    receive_count: int
    sent_at: datetime | None
    problem: str | None
    """Why the body is not a job message, when it isn't."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        return {
            "message_id": self.message_id,
            "job_id": self.job_id,
            "type": self.type,
            "receive_count": self.receive_count,
            "sent_at": self.sent_at.isoformat() if self.sent_at else None,
            "problem": self.problem,
            "body": self.body,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class RedriveResult:
    """What a redrive did: ``method`` is ``move-task`` (``task_handle`` set) or ``copy`` (``moved`` counted)."""

    method: Literal["move-task", "copy"]
    moved: int | None
    task_handle: str | None = None


class DeadLetterQueue:
    """Operations on one queue's DLQ. ``source_url`` is where redriven messages go."""

    def __init__(self, sqs: SQSClient, *, dlq_url: str, source_url: str) -> None:
        self._sqs = sqs
        self.dlq_url = dlq_url
        self.source_url = source_url

    @classmethod
    def of_queue(cls, sqs: SQSClient, queue_url: str) -> DeadLetterQueue:
        """The DLQ named by ``queue_url``'s redrive policy; raises :class:`DeadLetterError` if none."""
        try:
            attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])["Attributes"]
        except (BotoCoreError, ClientError) as error:
            raise DeadLetterError(f"queue {queue_url} is not reachable: {error}") from None
        if "RedrivePolicy" not in attributes:
            raise DeadLetterError(f"queue {queue_url} has no redrive policy, so no dead-letter queue")
        arn = json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"]
        _, _, _, _, account, name = arn.split(":", 5)
        try:
            dlq_url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        except (BotoCoreError, ClientError) as error:
            raise DeadLetterError(f"dead-letter queue {arn} is not reachable: {error}") from None
        return cls(sqs, dlq_url=dlq_url, source_url=queue_url)

    def count(self) -> int:
        """The approximate number of messages waiting in the DLQ."""
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self.dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])

    def peek(self, max_messages: int = 100, *, hold_seconds: int = 30) -> list[DeadMessage]:
        """Read up to ``max_messages`` without removing them.

        Each is hidden while being read (so a batch isn't read twice), then made visible again.
        """
        found: dict[str, DeadMessage] = {}
        receipts: list[str] = []
        try:
            while len(found) < max_messages:
                messages = self._receive(min(10, max_messages - len(found)), hold_seconds)
                if not messages:
                    break
                for message in messages:
                    receipts.append(message["ReceiptHandle"])
                    found.setdefault(message["MessageId"], _dead_message(message))
        finally:
            for start in range(0, len(receipts), 10):
                self._sqs.change_message_visibility_batch(
                    QueueUrl=self.dlq_url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": receipt, "VisibilityTimeout": 0}
                        for i, receipt in enumerate(receipts[start : start + 10])
                    ],
                )
        return list(found.values())

    def find(self, identifier: str, *, max_messages: int = 1000) -> DeadMessage | None:
        """The dead message whose message id or job id is ``identifier``, or None."""
        for message in self.peek(max_messages):
            if identifier in (message.message_id, message.job_id):
                return message
        return None

    def redrive(self, *, method: Method = "auto", max_messages: int | None = None) -> RedriveResult:
        """Move the DLQ's messages back to the source queue (see the module doc).

        ``move-task`` and ``auto`` move everything (``max_messages`` applies to copying only).
        """
        if method in ("auto", "move-task") and max_messages is None:
            try:
                return self._start_move_task()
            except NotImplementedError:  # moto in-process
                if method == "move-task":
                    raise DeadLetterError("this endpoint does not implement StartMessageMoveTask") from None
            except ClientError as error:
                if method == "move-task" or not (_unsupported(error) or _denied(error)):
                    raise DeadLetterError(f"StartMessageMoveTask failed: {error}") from None
                if _denied(error):  # a role without sqs:StartMessageMoveTask may still receive, send, delete
                    _log.warning("StartMessageMoveTask is not allowed for this role: copying instead")
            _log.info("StartMessageMoveTask is not available here: copying instead")
        elif method == "move-task":
            raise DeadLetterError("a move task moves every message: use the copy method to move only some")
        return RedriveResult(method="copy", moved=self._copy(max_messages))

    def wait_for_move_task(self, *, timeout_seconds: float = 600, poll_seconds: float = 5) -> dict[str, Any]:
        """Wait until the latest move task of this DLQ stops running; return its description."""
        arn = self._arn(self.dlq_url)
        deadline = time.monotonic() + timeout_seconds
        while True:
            try:
                tasks = self._sqs.list_message_move_tasks(SourceArn=arn, MaxResults=1).get("Results", [])
            except ClientError as error:
                if not _denied(error):
                    raise
                _log.warning("ListMessageMoveTasks is not allowed for this role: the task's progress is unknown")
                return {"Status": "UNKNOWN", "Reason": "sqs:ListMessageMoveTasks denied"}
            task: dict[str, Any] = dict(tasks[0]) if tasks else {}
            if task.get("Status") != "RUNNING" or time.monotonic() > deadline:
                return task
            time.sleep(poll_seconds)

    def _start_move_task(self) -> RedriveResult:
        response = self._sqs.start_message_move_task(
            SourceArn=self._arn(self.dlq_url), DestinationArn=self._arn(self.source_url)
        )
        return RedriveResult(method="move-task", moved=None, task_handle=response["TaskHandle"])

    def _copy(self, max_messages: int | None) -> int:
        moved = 0
        while max_messages is None or moved < max_messages:
            want = 10 if max_messages is None else min(10, max_messages - moved)
            messages = self._receive(want, 60)
            if not messages:
                break
            entries: list[SendMessageBatchRequestEntryTypeDef] = []
            for i, message in enumerate(messages):
                entry: SendMessageBatchRequestEntryTypeDef = {"Id": str(i), "MessageBody": message["Body"]}
                if message.get("MessageAttributes"):
                    entry["MessageAttributes"] = message["MessageAttributes"]
                entries.append(entry)
            sent = self._sqs.send_message_batch(QueueUrl=self.source_url, Entries=entries)
            done = [messages[int(ok["Id"])] for ok in sent.get("Successful", [])]
            for failed in sent.get("Failed", []):
                _log.warning("redrive send failed", message_id=messages[int(failed["Id"])]["MessageId"])
            if done:
                self._sqs.delete_message_batch(
                    QueueUrl=self.dlq_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
                )
            moved += len(done)
            if not done:
                break
        return moved

    def _receive(self, count: int, visibility: int) -> list[MessageTypeDef]:
        return self._sqs.receive_message(
            QueueUrl=self.dlq_url,
            MaxNumberOfMessages=count,
            WaitTimeSeconds=1,
            VisibilityTimeout=visibility,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])

    def _arn(self, queue_url: str) -> str:
        attributes = self._sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
        return attributes["QueueArn"]


def _unsupported(error: ClientError) -> bool:
    code = str(error.response.get("Error", {}).get("Code", ""))
    # A numeric code means the endpoint answered with a bare HTTP error, not an SQS one (moto's server).
    return code in _UNSUPPORTED or code.isdigit()


def _denied(error: ClientError) -> bool:
    return str(error.response.get("Error", {}).get("Code", "")) in _DENIED


def _dead_message(message: MessageTypeDef) -> DeadMessage:
    attributes = message.get("Attributes", {})
    sent = attributes.get("SentTimestamp")
    body = message.get("Body", "")
    job_id = job_type = problem = None
    try:
        parsed = parse_message_body(body)
        job_id, job_type = parsed.job_id, parsed.type
    except MessageFormatError as error:
        problem = str(error)
    return DeadMessage(
        message_id=message["MessageId"],
        body=body,
        job_id=job_id,
        type=job_type,
        receive_count=int(attributes.get("ApproximateReceiveCount", "0")),
        sent_at=datetime.fromtimestamp(int(sent) / 1000, UTC) if sent else None,
        problem=problem,
    )
