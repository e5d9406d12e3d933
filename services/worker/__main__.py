"""``python -m services.worker``: run one worker process until SIGTERM (see ``--help``)."""

from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType

import boto3
import sqlalchemy as sa
from prometheus_client import REGISTRY, start_http_server
from sqlalchemy.exc import SQLAlchemyError

from services.db import DatabaseURLError, SchemaVersionError
from services.db_tls import TLSConfigError
from services.jobs import JobStore, sqs_client
from services.jobs.types import load_job_types
from services.logs import configure_logging
from services.secrets import SecretError
from services.settings import SettingsError
from services.worker.lifecycle import InstanceMetadata
from services.worker.metrics import WorkerMetrics
from services.worker.registry import MissingHandlerError, check_every_type_bound, load_handlers
from services.worker.settings import WorkerSettings, load_settings, settings_help
from services.worker.worker import Worker, WorkerStartError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m services.worker",
        description=(
            "Consume jobs from the SQS queue and run them: long-poll batches, database leases, "
            "heartbeats, retries with backoff, dead-lettering, and a graceful drain on SIGTERM "
            "(or when the instance's termination lifecycle hook fires)."
        ),
        epilog="settings (environment variables):\n" + settings_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--check", action="store_true", help="check the settings, the database and the queue, then exit 0"
    )
    return parser


def _fail(message: str, code: int) -> int:
    print(f"worker: {message.splitlines()[0] if message else 'failed'}", file=sys.stderr)
    return code


def _open_store(settings: WorkerSettings) -> tuple[sa.Engine, JobStore]:
    """The job store (migrated, or its version checked: ``DATABASE_MIGRATIONS``); ``WorkerStartError`` if unusable."""
    try:
        engine = settings.open_engine(pool_size=settings.worker_concurrency + 4)
    except (SecretError, TLSConfigError) as error:
        raise WorkerStartError(str(error)) from None
    except (SQLAlchemyError, DatabaseURLError) as error:
        raise WorkerStartError(f"database at DATABASE_URL is not usable: {error}") from None
    try:
        store = JobStore(engine, migrate=settings.database_migrations == "apply")
        if settings.database_migrations == "check":
            store.check_schema()
    except SchemaVersionError as error:
        engine.dispose()
        raise WorkerStartError(str(error)) from None
    except SQLAlchemyError as error:
        engine.dispose()
        raise WorkerStartError(f"database at DATABASE_URL is not usable: {error}") from None
    return engine, store


def main(argv: list[str] | None = None) -> int:
    """Run the worker; return the exit status (0 after a drain, 2 for bad settings, 1 otherwise)."""
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        load_job_types(settings.type_modules)
        load_handlers(settings.handler_modules)
        check_every_type_bound()
    except (SettingsError, ImportError, MissingHandlerError) as error:
        return _fail(str(error), 2)
    configure_logging("worker", level=settings.log_level, json=settings.log_json)
    try:
        engine, store = _open_store(settings)
    except WorkerStartError as error:
        return _fail(str(error), 1)
    metadata: InstanceMetadata | None = None
    try:
        sqs = sqs_client(
            queue_url=settings.queue_url,
            read_timeout=settings.worker_receive_wait_seconds + 10,
            max_pool_connections=settings.worker_concurrency + 4,
        )
        worker = Worker(store=store, sqs=sqs, settings=settings, metrics=WorkerMetrics(REGISTRY))
        if args.check:
            worker.check()
            print(f"worker: settings, database and queue OK (max receive count {worker.max_receive_count})")
            return 0
        if settings.lifecycle_enabled:
            metadata = InstanceMetadata(settings.worker_imds_endpoint)
            worker.attach_lifecycle(
                metadata=metadata, autoscaling=boto3.client("autoscaling", region_name=sqs.meta.region_name)
            )
        if settings.worker_metrics_port:
            start_http_server(settings.worker_metrics_port, addr="0.0.0.0", registry=REGISTRY)  # noqa: S104 - scraped by the agent

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            worker.stop()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        worker.run()
    except WorkerStartError as error:
        return _fail(str(error), 1)
    finally:
        if metadata is not None:
            metadata.close()
        store.close()
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
