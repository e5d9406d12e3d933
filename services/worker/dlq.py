"""``python -m services.worker.dlq``: count, list, inspect and redrive dead-lettered messages.

The DLQ is found from the job queue's redrive policy (``QUEUE_URL`` or ``--queue-url``).
With ``DATABASE_URL`` set, ``list`` and ``inspect`` also show each job's status and error.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.jobs import JobStore, sqs_client
from services.logs import configure_logging
from services.secrets import SecretError, resolve_database_url
from services.settings import SettingsError, read_settings
from services.worker.deadletter import DeadLetterError, DeadLetterQueue, DeadMessage


class DlqSettings(BaseSettings):
    """The environment the DLQ tool reads (flags override it)."""

    model_config = SettingsConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    queue_url: str | None = Field(default=None, validation_alias="QUEUE_URL")
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    database_secret_arn: str | None = Field(default=None, validation_alias="DATABASE_SECRET_ARN")
    log_level: str = Field(default="INFO", validation_alias="LOG_LEVEL")
    log_json: bool = Field(default=False, validation_alias="LOG_JSON")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m services.worker.dlq",
        description="Count, list, inspect and redrive the job queue's dead-lettered messages.",
        epilog=(
            "environment: QUEUE_URL (the job queue; its redrive policy names the DLQ), "
            "DATABASE_URL (optional: show job status and error) with DATABASE_SECRET_ARN (its credentials), "
            "AWS_ENDPOINT_URL (e.g. moto)"
        ),
    )
    parser.add_argument("--queue-url", help="the job queue (default: $QUEUE_URL)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("count", help="how many messages wait in the DLQ")
    listing = commands.add_parser("list", help="list dead-lettered messages without removing them")
    listing.add_argument("--max", type=int, default=100, help="at most this many (default 100)")
    inspect = commands.add_parser("inspect", help="show one message in full, by message id or job id")
    inspect.add_argument("id", help="a message id or a job id")
    redrive = commands.add_parser("redrive", help="move dead-lettered messages back to the job queue")
    redrive.add_argument("--max", type=int, help="move at most this many (copies; default: all)")
    redrive.add_argument(
        "--method",
        choices=["auto", "move-task", "copy"],
        default="auto",
        help="StartMessageMoveTask, copying, or the first that works (default)",
    )
    redrive.add_argument("--wait", action="store_true", help="wait for a move task to finish")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; return the exit status (2 for bad settings or arguments, 1 for failures)."""
    args = _parser().parse_args(argv)
    try:
        settings = read_settings(DlqSettings)
    except SettingsError as error:
        print(f"dlq: {error}", file=sys.stderr)
        return 2
    try:
        configure_logging("dlq", level=settings.log_level, json=settings.log_json)
    except ValueError as error:
        print(f"dlq: setting LOG_LEVEL is invalid: {error}", file=sys.stderr)
        return 2
    queue_url = args.queue_url or settings.queue_url
    if not queue_url:
        print("dlq: setting QUEUE_URL is required (or pass --queue-url)", file=sys.stderr)
        return 2
    try:
        database_url = settings.database_url
        if database_url:
            database_url = resolve_database_url(database_url, settings.database_secret_arn)
        dlq = DeadLetterQueue.of_queue(sqs_client(queue_url=queue_url), queue_url)
        return _run(args, dlq, database_url)
    except (DeadLetterError, SecretError, BotoCoreError, ClientError) as error:
        print(f"dlq: {error}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace, dlq: DeadLetterQueue, database_url: str | None) -> int:
    if args.command == "count":
        _emit(args, {"dlq_url": dlq.dlq_url, "messages": dlq.count()})
        return 0
    if args.command == "redrive":
        result = dlq.redrive(method=args.method, max_messages=args.max)
        report: dict[str, Any] = {"method": result.method, "moved": result.moved, "task_handle": result.task_handle}
        if result.task_handle and args.wait:
            report["task"] = dlq.wait_for_move_task()
        _emit(args, report)
        return 0
    messages = dlq.peek(args.max) if args.command == "list" else [m for m in [dlq.find(args.id)] if m]
    if args.command == "inspect" and not messages:
        print(f"dlq: no dead-lettered message with message id or job id {args.id!r}", file=sys.stderr)
        return 1
    rows = _with_jobs(messages, database_url)
    if args.json or args.command == "inspect":
        print(json.dumps(rows if args.command == "list" else rows[0], indent=2, default=str))
    else:
        _print_table(rows)
    return 0


def _with_jobs(messages: list[DeadMessage], database_url: str | None) -> list[dict[str, Any]]:
    rows = [message.to_dict() for message in messages]
    if database_url:
        with JobStore.from_url(database_url) as store:
            jobs = store.get_many([m.job_id for m in messages if m.job_id])
        for row in rows:
            job = jobs.get(row["job_id"] or "")
            row["job"] = job.to_dict() if job else None
    return rows


def _emit(args: argparse.Namespace, report: dict[str, Any]) -> None:
    if args.json:
        print(json.dumps(report, default=str))
    else:
        print(" ".join(f"{key}={value}" for key, value in report.items() if value is not None))


def _print_table(rows: list[dict[str, Any]]) -> None:
    print(f"{'MESSAGE ID':<38} {'JOB ID':<38} {'TYPE':<12} {'RECEIVES':>8}  STATUS / PROBLEM")
    for row in rows:
        job = row.get("job") or {}
        detail = row["problem"] or (f"{job.get('status')}: {job.get('error')}" if job else "")
        print(
            f"{row['message_id']:<38} {row['job_id'] or '-':<38} {row['type'] or '-':<12} "
            f"{row['receive_count']:>8}  {detail[:80]}"
        )
    print(f"{len(rows)} message(s)")


if __name__ == "__main__":
    sys.exit(main())
