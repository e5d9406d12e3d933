"""The rotation drill: the app role's password rotates under load, and nothing notices.

Real PostgreSQL (a throw-away server that checks passwords, over verify-full TLS) and real
MariaDB; Secrets Manager and SQS on moto. An API node (in-process, as the API tests run it)
takes a steady stream of item writes, job submissions and job reads; a worker runs the
jobs. Both connect as the app role created by the migration step, and their pooled
connections are renewed after 0.2 s (``DATABASE_POOL_RECYCLE_SECONDS``), so new logins
happen all through the drill (on AWS every 30 minutes, and at once after a failover).

Twice, the drill rotates the password the way Secrets Manager's single-user rotation does:
the new password is staged as ``AWSPENDING`` (createSecret), the database's password is
changed (setSecret), a pause while ``AWSCURRENT`` still names the old one, then the stages
move (finishSecret). Pass: zero failed requests, every job succeeds, the same node and
worker serve throughout (no restart), and the services did re-read the secret.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from services.api.app import create_app
from services.api.settings import load_settings
from services.db import credentials_of
from services.db_auth import DEFAULT_RETRY_SECONDS
from services.jobs import JobStore
from services.migrate import MigrateSettings, run
from services.worker.registry import load_handlers
from services.worker.settings import WorkerSettings
from services.worker.worker import Worker
from tests.migrate.conftest import drop_role, put_secret
from tests.private_postgres import private_postgres
from tests.support import wait_until
from tests.tls_certs import Authority

pytestmark = pytest.mark.anyio

RECYCLE_SECONDS = 0.2
PENDING_WINDOW_SECONDS = 1.5


@dataclass
class DrillDatabase:
    """Where the drill runs: an admin URL, the CA that verifies the server (PostgreSQL), a password setter."""

    admin_url: str
    ca_file: Path | None
    set_password: Callable[[str, str], None]


def _postgres_password(admin_url: str) -> Callable[[str, str], None]:
    def set_password(role: str, password: str) -> None:
        from psycopg import sql

        engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
        with engine.connect() as conn:
            statement = sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(password))
            conn.connection.cursor().execute(statement)

    return set_password


def _mysql_password(admin_url: str) -> Callable[[str, str], None]:
    def set_password(role: str, password: str) -> None:
        engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
        with engine.connect() as conn:
            conn.connection.cursor().execute("ALTER USER %s@'%%' IDENTIFIED BY %s", (role, password))

    return set_password


@pytest.fixture(params=["postgresql", "mariadb"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DrillDatabase]:
    if request.param == "postgresql":
        ca = Authority.create(tmp_path, "drill-ca")
        with private_postgres(tls=ca.issue_server(tmp_path, hosts=["127.0.0.1"])) as server:
            url = server.create_database("app")
            yield DrillDatabase(url, ca.cert_file, _postgres_password(url))
    else:
        url = request.getfixturevalue("mysql_url")
        yield DrillDatabase(url, None, _mysql_password(url))


@dataclass
class Traffic:
    """What the clients saw."""

    ok: int = 0
    failed: list[str] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)
    slowest: float = 0.0
    rotating: bool = False
    during_rotation: int = 0

    def record(self, what: str, response: httpx.Response, started: float) -> None:
        self.slowest = max(self.slowest, time.monotonic() - started)
        self.during_rotation += self.rotating
        if response.status_code >= 500:
            self.failed.append(f"{what}: {response.status_code} {response.text[:200]}")
        else:
            self.ok += 1


def _rotate(manager: Any, arn: str, role: str, database: DrillDatabase, password: str) -> None:
    """One single-user rotation, step by step as Secrets Manager's rotation function does it."""
    current = manager.describe_secret(SecretId=arn)["VersionIdsToStages"]
    old_version = next(version for version, stages in current.items() if "AWSCURRENT" in stages)
    token = str(uuid.uuid4())
    manager.put_secret_value(  # createSecret
        SecretId=arn,
        ClientRequestToken=token,
        SecretString=f'{{"username": "{role}", "password": "{password}"}}',
        VersionStages=["AWSPENDING"],
    )
    database.set_password(role, password)  # setSecret: from now on only AWSPENDING logs in
    time.sleep(PENDING_WINDOW_SECONDS)  # testSecret; AWSCURRENT still names the old password
    manager.update_secret_version_stage(  # finishSecret
        SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=token, RemoveFromVersionId=old_version
    )
    manager.update_secret_version_stage(SecretId=arn, VersionStage="AWSPENDING", RemoveFromVersionId=token)


async def test_a_password_rotation_fails_no_request_and_loses_no_job(
    database: DrillDatabase, manager: Any, make_queues: Any, sqs_client: Any
) -> None:
    role = f"app_{secrets.token_hex(5)}"
    app_secret = put_secret(manager, {"username": role, "password": secrets.token_urlsafe(16)})
    parsed = sa.make_url(database.admin_url)
    master = put_secret(manager, {"username": parsed.username, "password": parsed.password or ""})
    bare = parsed.set(username=None, password=None).render_as_string(hide_password=False)
    try:
        run(
            MigrateSettings(
                database_url=bare,
                migrate_master_secret_arn=master,
                database_secret_arn=app_secret,
                database_tls_ca_file=database.ca_file,
            )
        )
        await _drill(database, manager, app_secret, role, bare, make_queues().url, sqs_client)
    finally:
        if database.ca_file is None:  # the shared MariaDB: its account outlives the scratch database
            drop_role(database.admin_url, role)


async def _drill(
    database: DrillDatabase, manager: Any, app_secret: str, role: str, url: str, queue_url: str, sqs_client: Any
) -> None:
    shared: dict[str, Any] = {
        "database_url": url,
        "database_secret_arn": app_secret,
        "database_tls_ca_file": database.ca_file,
        "database_migrations": "check",
        "queue_url": queue_url,
        "log_level": "WARNING",
        "database_pool_recycle_seconds": RECYCLE_SECONDS,
    }
    worker_settings = WorkerSettings(
        **shared,
        worker_concurrency=4,
        worker_receive_wait_seconds=1,
        worker_heartbeat_seconds=0.5,
        worker_ack_flush_seconds=0.1,
        worker_reaper_interval_seconds=0,
        worker_drain_seconds=5,
    )
    load_handlers(worker_settings.handler_modules)
    worker_engine = worker_settings.open_engine(pool_size=8)
    store = JobStore(worker_engine, migrate=False)
    store.check_schema()
    worker = Worker(store=store, sqs=sqs_client, settings=worker_settings)
    worker_thread = threading.Thread(target=worker.run, name="drill-worker")
    worker_thread.start()
    app = create_app(load_settings(**shared, api_node_id="127.0.0.1:8080", api_discovery_interval_seconds=5))
    traffic = Traffic()
    stop = asyncio.Event()
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8080") as client,
        ):
            node = app.state.node

            async def writes(lane: int) -> None:
                count = 0
                while not stop.is_set():
                    started = time.monotonic()
                    put = await client.put(f"/items/lane{lane}-{count % 50}", json={"value": count})
                    traffic.record("PUT /items", put, started)
                    started = time.monotonic()
                    job = await client.post("/jobs", json={"type": "echo", "payload": {"n": count}})
                    traffic.record("POST /jobs", job, started)
                    if job.status_code == 202:
                        traffic.jobs.append(job.json()["id"])
                        started = time.monotonic()
                        traffic.record("GET /jobs", await client.get(f"/jobs/{job.json()['id']}"), started)
                    count += 1

            tasks = [asyncio.create_task(writes(lane)) for lane in range(3)]
            await asyncio.sleep(1.0)
            traffic.rotating = True
            for round_ in range(2):
                await asyncio.to_thread(
                    _rotate, manager, app_secret, role, database, f"rotated-{round_}-{secrets.token_hex(8)}"
                )
                await asyncio.sleep(1.0)
            traffic.rotating = False
            stop.set()
            await asyncio.gather(*tasks)
            api_credentials = credentials_of(node.engine)
            assert app.state.node is node  # the same node served all along
    finally:
        stop.set()
        await asyncio.to_thread(_wait_for_jobs, store, traffic.jobs)
        worker.stop()
        worker_thread.join(timeout=30)
        store.close()
        worker_engine.dispose()
    assert traffic.failed == [], traffic.failed[:5]
    assert traffic.during_rotation >= 10, traffic  # requests kept coming while the passwords changed
    assert api_credentials is not None
    assert api_credentials.reads >= 3  # at start, and after each rotation
    worker_credentials = credentials_of(worker_engine)
    assert worker_credentials is not None
    assert worker_credentials.reads >= 3  # at start, and after each rotation: its logins met both
    assert traffic.slowest < DEFAULT_RETRY_SECONDS
    print(  # the drill's figures, shown with -s
        f"\nrotation drill ({sa.make_url(url).get_backend_name()}): {traffic.ok} requests ok "
        f"({traffic.during_rotation} during the rotations), 0 failed, "
        f"{len(traffic.jobs)} jobs succeeded, slowest request {traffic.slowest:.3f} s, "
        f"secret reads api {api_credentials.reads} worker {worker_credentials.reads}"
    )


def _wait_for_jobs(store: JobStore, job_ids: list[str]) -> None:
    def every_job_succeeded() -> bool:
        return all((job := store.get(job_id)) is not None and job.status == "succeeded" for job_id in job_ids)

    wait_until(every_job_succeeded, timeout=60, interval=0.2)
