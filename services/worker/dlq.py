"""``python -m services.worker.dlq``: count, list, inspect and redrive dead-lettered messages.

The DLQ is found from the job queue's redrive policy (``QUEUE_URL`` or ``--queue-url``).
With ``DATABASE_URL`` set, ``list`` and ``inspect`` also show each job's status and error.

Beside a running local system (``python -m services.local up``) no variable is needed:
without ``QUEUE_URL`` the tool takes the local system's queue together with its endpoint
and credentials (moto), and, unless ``DATABASE_URL`` is set, its database.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.jobs import JobStore, sqs_client
from services.logs import configure_logging
from services.secrets import SecretError, resolve_database_url
from services.settings import (
    LOCAL_DATA_DIR,
    DatabaseURL,
    LogLevel,
    SettingsError,
    local_system_env,
    read_settings,
)
from services.worker.deadletter import DeadLetterError, DeadLetterQueue, DeadMessage
from services.worker.settings import settings_help

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class DlqSettings(BaseSettings):
    """The environment the DLQ tool reads (flags override it). Field ``x_y`` is variable ``X_Y``."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    queue_url: str | None = Field(
        default=None, description="the job queue, whose redrive policy names the DLQ; unset: the local system's"
    )
    database_url: DatabaseURL | None = Field(
        default=None, description="show each job's status and error; unset: the local system's database, if one runs"
    )
    database_secret_arn: str | None = Field(
        default=None, description="Secrets Manager secret (RDS format) whose username/password complete DATABASE_URL"
    )
    database_tls_ca_file: Path | None = Field(
        default=None, description="CA bundle that verifies the database server (as the services use it)"
    )
    log_level: LogLevel = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR")
    log_json: bool = Field(default=False, description="JSON log lines (false: readable console lines)")


def _add_common(parser: argparse.ArgumentParser, *, command: bool) -> None:
    """The options accepted before the command and after it (``dlq --json count``, ``dlq count --json``).

    A command's copies default to SUPPRESS, so they never overwrite what was given before it.
    """

    def default(value: object) -> object:
        return argparse.SUPPRESS if command else value

    parser.add_argument(
        "--queue-url", default=default(None), help="the job queue (default: $QUEUE_URL, else the local system's)"
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=default(LOCAL_DATA_DIR),
        help=f"the local system's --data-dir, to find it running (default {LOCAL_DATA_DIR})",
    )
    parser.add_argument("--json", action="store_true", default=default(False), help="print JSON instead of text")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m services.worker.dlq",
        description="Count, list, inspect and redrive the job queue's dead-lettered messages.",
        epilog=(
            "settings (environment variables; AWS_ENDPOINT_URL and the usual AWS_* reach SQS):\n"
            f"{settings_help(DlqSettings)}\n\n"
            "Without QUEUE_URL, the local system running from --data-dir (python -m services.local up)\n"
            "gives the queue with its endpoint and credentials, and the database unless DATABASE_URL is set."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_common(parser, command=False)
    commands = parser.add_subparsers(dest="command", required=True)
    count = commands.add_parser("count", help="how many messages wait in the DLQ")
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
    for command in (count, listing, inspect, redrive):
        _add_common(command, command=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; return the exit status (2 for bad settings or arguments, 1 for failures)."""
    args = _parser().parse_args(argv)
    try:
        settings = read_settings(DlqSettings)
    except SettingsError as error:
        print(f"dlq: {error}", file=sys.stderr)
        return 2
    configure_logging("dlq", level=settings.log_level, json=settings.log_json)
    queue_url = args.queue_url or settings.queue_url
    local = None if queue_url else local_system_env(args.data_dir)
    if local is not None:
        queue_url = local.get("QUEUE_URL")
    if not queue_url:
        print(
            "dlq: no queue: set QUEUE_URL (or pass --queue-url), or start the local system "
            f"(python -m services.local up); none runs from {args.data_dir}",
            file=sys.stderr,
        )
        return 2
    try:
        if settings.database_url:
            database_url: str | None = resolve_database_url(settings.database_url, settings.database_secret_arn)
        else:
            database_url = (local or {}).get("DATABASE_URL")
        sqs = _local_sqs(local, queue_url) if local is not None else sqs_client(queue_url=queue_url)
        dlq = DeadLetterQueue.of_queue(sqs, queue_url)
        return _run(args, dlq, database_url, settings.database_tls_ca_file)
    except (DeadLetterError, SecretError, BotoCoreError, ClientError) as error:
        where = f" (the local system's, from {args.data_dir})" if local is not None else ""
        print(f"dlq: {error}{where}", file=sys.stderr)
        return 1


def _local_sqs(env: dict[str, str], queue_url: str) -> SQSClient:
    """A client for the local system's queue: its moto endpoint, credentials and region, whatever ours are."""
    session = boto3.Session(
        aws_access_key_id=env.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY"),
        region_name=env.get("AWS_DEFAULT_REGION"),
    )
    return sqs_client(queue_url=queue_url, session=session, endpoint_url=env.get("AWS_ENDPOINT_URL"))


def _run(args: argparse.Namespace, dlq: DeadLetterQueue, database_url: str | None, ca_file: Path | None) -> int:
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
    rows = _with_jobs(messages, database_url, ca_file)
    if args.json or args.command == "inspect":
        print(json.dumps(rows if args.command == "list" else rows[0], indent=2, default=str))
    else:
        _print_table(rows)
    return 0


def _with_jobs(messages: list[DeadMessage], database_url: str | None, ca_file: Path | None) -> list[dict[str, Any]]:
    rows = [message.to_dict() for message in messages]
    if database_url:
        with JobStore.from_url(database_url, tls_ca_file=ca_file) as store:
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
