"""The whole system on one machine: queue, database, web nodes, balancer, workers, scheduler.

Every part runs as its own process, as on AWS, with embedded stand-ins: moto's server for
SQS, a SQLite file (or ``--db-url``) for Aurora, an optional Redis for ElastiCache, and a
small balancer (:mod:`services.local.balancer`) for the ALB. Nodes find each other through a
peers file that the API re-reads on every refresh, which is how ``POST /_cluster/nodes``
grows the ring at run time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import boto3
import httpx
import redis
import sqlalchemy as sa
import uvicorn
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.api.errors import error_response
from services.db import DatabaseURLError, make_engine
from services.local.balancer import Backend, Balancer, Pool, Strategy, create_app
from services.local.console.admin import ClusterActions
from services.local.console.load import ReadLoad
from services.local.console.routes import PATH as CONSOLE_PATH
from services.local.console.routes import Console
from services.local.processes import ChildSpec, Supervisor
from services.local.queues import Queues, create_queues
from services.local.state_lock import StateDirectoryInUseError, StateLock
from services.settings import publish_local_system, withdraw_local_system

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

STOP_ORDER = ["scheduler", "node", "worker", "queue"]
"""Children stop in this order: no new work, web nodes, workers drain, the queue last."""

PUBLISHED = (
    "DATABASE_URL",
    "QUEUE_URL",
    "REDIS_URL",
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
)
"""The services' variables published for tools run beside the system (the DLQ tool)."""


class StartupError(RuntimeError):
    """The system cannot start; the message is one line saying why."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    """How to run the local system."""

    nodes: int = 3
    workers: int = 2
    port: int = 8080
    db_url: str | None = None
    redis_url: str | None = None
    redis_server: bool = False
    data_dir: Path = Path(".local")
    strategy: Strategy = "least-outstanding"
    lease_seconds: float = 5.0
    discovery_seconds: float = 1.0
    scheduler_fire_on_start: bool = False
    ready_timeout: float = 90.0

    def database_url(self) -> str:
        """``--db-url``, else a SQLite file in the data directory."""
        return self.db_url or f"sqlite:///{(self.data_dir / 'system.db').resolve()}"

    def check(self) -> None:
        """Raise :class:`StartupError` naming the first option that cannot work, before anything starts."""
        if self.nodes < 1:
            raise StartupError(
                f"--nodes must be at least 1 (got {self.nodes}): requests need a web node; "
                "add more at run time with POST /_cluster/nodes"
            )
        if self.workers < 0:
            raise StartupError(f"--workers must be 0 or more (got {self.workers})")
        if not 1 <= self.port <= 65535:
            raise StartupError(f"--port must be a TCP port, 1..65535 (got {self.port})")
        if self.redis_server and self.redis_url is not None:
            raise StartupError("--redis and --redis-url exclude each other: --redis starts a Redis of its own")
        if self.redis_server and shutil.which("redis-server") is None:
            raise StartupError("--redis needs redis-server on the PATH (apt-get install redis-server)")
        if self.redis_url is not None:
            problem = redis_url_problem(self.redis_url)
            if problem:
                raise StartupError(
                    f"--redis-url {self.redis_url!r} is malformed: {problem}; "
                    "write it as redis://HOST:PORT/DB, e.g. redis://127.0.0.1:6379/0 (rediss:// for TLS)"
                )


def redis_url_problem(url: str) -> str | None:
    """Why ``url`` is not a Redis URL redis-py can use, or None if it is one."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as error:
        return f"its port is not valid ({str(error).lower()})"
    if parts.scheme not in ("redis", "rediss", "unix"):
        return "it must start with redis://, rediss:// or unix://"
    try:
        redis.connection.parse_url(url)  # type: ignore[no-untyped-call]
    except ValueError as error:
        return str(error)
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        # As uvicorn binds: a connection of a system just stopped, in TIME-WAIT on this port for
        # about a minute, does not stop a new listener (only another listener does).
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class LocalSystem:
    """Starts, supervises, resizes and stops the local system."""

    def __init__(
        self,
        options: Options,
        *,
        report: Callable[[str], None],
        token_source: Callable[[], str | None] | None = None,
    ) -> None:
        """``token_source`` gives the bearer token the console and its read load send (None: no header)."""
        self.options = options
        self.token_source: Callable[[], str | None] = token_source or (lambda: None)
        self.redis_url = options.redis_url
        self.supervisor = Supervisor(report=report)
        self.pool = Pool(strategy=options.strategy)
        self.balancer = Balancer(self.pool)
        self._server: uvicorn.Server | None = None
        self._serving: asyncio.Task[None] | None = None
        self._health: asyncio.Task[None] | None = None
        self._node_numbers = count(1)
        self._worker_numbers = count(1)
        self._lock = asyncio.Lock()  # adding or removing a node changes the pool and the peers file together
        self.queues: Queues | None = None
        self._sqs: SQSClient | None = None
        self._queue_endpoint = ""
        self.database_url = options.database_url()
        self.peers_file = (options.data_dir / "peers").resolve()
        self.logs = (options.data_dir / "logs").resolve()
        self._state_lock = StateLock(options.data_dir)
        self._redis_spec: ChildSpec | None = None
        self.console = Console(self, self.token_source)

    @property
    def url(self) -> str:
        """Where the balancer listens."""
        return f"http://127.0.0.1:{self.options.port}"

    @property
    def console_url(self) -> str:
        """The live console's page."""
        return f"{self.url}{CONSOLE_PATH}"

    @property
    def console_load(self) -> ReadLoad:
        """The read load the console starts and stops."""
        return self.console.load

    # -- start and stop -------------------------------------------------------------

    async def start(self) -> None:
        """Start every part and wait until each answers its health check.

        Raises :class:`StartupError` (one line) for a taken port, a bad database URL, an
        unreachable Redis, or a part that does not come up in time.
        """
        options = self.options
        options.check()
        try:
            self._state_lock.acquire(port=options.port)
        except StateDirectoryInUseError as error:
            raise StartupError(str(error)) from None
        if not _port_is_free(options.port):
            raise StartupError(
                f"port {options.port} is already in use; choose another with --port (make demo PORT=...)"
            )
        options.data_dir.mkdir(parents=True, exist_ok=True)
        self._prepare_database()
        if options.redis_server:
            await self._start_redis_server()
        self._check_redis()
        self._write_peers([])
        await self._start_queue()
        for _ in range(options.nodes):
            await self.add_node(when_ready=False)
        await self._start_balancer()
        for _ in range(options.workers):
            await self.add_worker()
        await self.supervisor.start(
            self._spec(
                "scheduler",
                "scheduler",
                ["-m", "services.local.scheduler"],
                {"SCHEDULER_FIRE_ON_START": "1" if options.scheduler_fire_on_start else "0"},
            )
        )
        await self.wait_ready(options.ready_timeout)
        env = self._env({})
        publish_local_system(options.data_dir, {name: env[name] for name in PUBLISHED if name in env})

    def _prepare_database(self) -> None:
        # Migrate once here, so the nodes and workers starting together find the schema ready.
        from services.items.store import ItemStore
        from services.jobs import JobStore

        try:
            engine = make_engine(self.database_url)
        except DatabaseURLError as error:
            raise StartupError(str(error)) from None
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError as error:
            engine.dispose()
            shown = engine.url.render_as_string(hide_password=True)
            cause = getattr(error, "orig", None) or error
            raise StartupError(f"database {shown} is not reachable: {cause}".splitlines()[0]) from None
        try:
            JobStore(engine).close()
            ItemStore(engine)
        finally:
            engine.dispose()

    def _check_redis(self) -> None:
        if not self.redis_url:
            return
        try:
            with redis.Redis.from_url(self.redis_url, socket_connect_timeout=2) as client:
                client.ping()
        except (redis.RedisError, ValueError) as error:
            raise StartupError(f"Redis at {self.redis_url} is not reachable: {error}") from None

    async def _start_redis_server(self) -> None:
        port = free_port()
        self.redis_url = f"redis://127.0.0.1:{port}/0"
        argv = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
        self._redis_spec = ChildSpec(
            id="redis",
            kind="redis",
            argv=argv,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            log_path=self.logs / "redis.log",
        )
        await self.start_redis()
        deadline = time.monotonic() + 10
        while True:
            try:
                self._check_redis()
                return
            except StartupError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)

    def redis_state(self) -> dict[str, Any]:
        """Whether the system uses Redis, runs it itself (``--redis``), and whether that process runs."""
        child = self.supervisor.children.get("redis")
        return {
            "url": self.redis_url,
            "managed": self._redis_spec is not None,
            "running": child.alive if child is not None else None if self._redis_spec is None else False,
        }

    async def stop_redis(self) -> None:
        """Stop the Redis this system runs. ValueError when it runs none, or it is stopped already."""
        if self._redis_spec is None:
            raise ValueError(self._no_redis_reason())
        if "redis" not in self.supervisor.children:
            raise ValueError("Redis is already stopped; start it again first")
        await self.supervisor.stop("redis")

    async def start_redis(self) -> None:
        """Start (again) the Redis this system runs. ValueError when it runs none, or it runs already."""
        if self._redis_spec is None:
            raise ValueError(self._no_redis_reason())
        if "redis" in self.supervisor.children:
            raise ValueError("Redis is already running")
        await self.supervisor.start(self._redis_spec)

    def _no_redis_reason(self) -> str:
        if self.redis_url:
            return (
                f"Redis at {self.redis_url} is not run by this system (--redis-url); start with --redis to control it"
            )
        return "this system runs without Redis; start it with --redis to add a Redis tier it can stop and start"

    async def _start_queue(self) -> None:
        port = free_port()
        self._queue_endpoint = f"http://127.0.0.1:{port}"
        await self.supervisor.start(
            self._spec("queue", "queue", ["-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], {})
        )
        deadline = time.monotonic() + 30
        async with httpx.AsyncClient(timeout=1) as client:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{self._queue_endpoint}/moto-api/")).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise StartupError(f"the SQS stand-in (moto) did not start; see {self.logs / 'queue.log'}")
                await asyncio.sleep(0.2)
        self._sqs = sqs = boto3.client(
            "sqs",
            endpoint_url=self._queue_endpoint,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - moto accepts any credentials
        )
        self.queues = create_queues(sqs)

    async def _start_balancer(self) -> None:
        admin = [
            Route("/_cluster", self._cluster_view, methods=["GET"]),
            Route("/_cluster/nodes", self._add_node_route, methods=["POST"]),
            Route("/_cluster/nodes/{id}", self._remove_node_route, methods=["DELETE"]),
            Route("/_cluster/workers", self._add_worker_route, methods=["POST"]),
            Route("/_cluster/workers/{id}", self._remove_worker_route, methods=["DELETE"]),
            *ClusterActions(self).routes(),
            *self.console.routes(),
        ]
        config = uvicorn.Config(
            create_app(self.balancer, admin),
            host="127.0.0.1",
            port=self.options.port,
            log_level="warning",
            lifespan="off",
            access_log=False,
            # Like the ALB (60 s idle), keep connections longer than clients do (httpx: 5 s), so a
            # client never sends on a connection the balancer is closing at that moment.
            timeout_keep_alive=60,
            timeout_graceful_shutdown=3,  # an open console event stream must not hold up a stop
        )
        self._server = uvicorn.Server(config)
        self._server.install_signal_handlers = lambda: None  # type: ignore[attr-defined]
        self._serving = asyncio.create_task(self._server.serve(), name="balancer")
        self._health = asyncio.create_task(self.balancer.health_loop(), name="health")
        while not self._server.started:
            if self._serving.done():
                raise StartupError(f"the balancer could not listen on port {self.options.port}")
            await asyncio.sleep(0.05)

    async def wait_ready(self, timeout: float) -> None:
        """Wait until every node is healthy and every child alive, or raise :class:`StartupError`."""
        deadline = time.monotonic() + timeout
        while True:
            await self.balancer.check_health()
            nodes_ready = all(b.healthy for b in self.pool.backends.values())
            children_alive = all(c.alive for c in self.supervisor.children.values())
            if nodes_ready and children_alive:
                return
            if time.monotonic() > deadline:
                waiting = [b.id for b in self.pool.backends.values() if not b.healthy]
                waiting += [i for i, c in self.supervisor.children.items() if not c.alive]
                raise StartupError(f"not ready after {timeout:.0f}s: {', '.join(waiting)}; logs in {self.logs}")
            await asyncio.sleep(0.3)

    async def stop(self) -> None:
        """Stop taking requests, then stop every child (web nodes, workers, scheduler, queue)."""
        if self._state_lock.held:  # else the state directory, system.json included, is another system's
            withdraw_local_system(self.options.data_dir)
        await self.console.close()
        if self._server is not None:
            self._server.should_exit = True
        if self._health is not None:
            self._health.cancel()
        tasks = [task for task in (self._serving, self._health) if task is not None]
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.supervisor.stop_all(STOP_ORDER)
        await self.balancer.close()
        self._state_lock.release()

    # -- children -------------------------------------------------------------------

    def _env(self, extra: dict[str, str]) -> dict[str, str]:
        assert self.queues is not None
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
            "HOME": os.environ.get("HOME", "/tmp"),  # noqa: S108 - only a fallback for tools that want a HOME
            "DATABASE_URL": self.database_url,
            "QUEUE_URL": self.queues.jobs,
            "AWS_ENDPOINT_URL": self._queue_endpoint,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": "us-east-1",
            "LOG_JSON": "true",
            **extra,
        }
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
        return env

    def _spec(self, child_id: str, kind: str, args: list[str], extra: dict[str, str]) -> ChildSpec:
        env = self._env(extra) if kind != "queue" else {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        return ChildSpec(
            id=child_id, kind=kind, argv=[sys.executable, *args], env=env, log_path=self.logs / f"{child_id}.log"
        )

    def _write_peers(self, members: list[str]) -> None:
        self.peers_file.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.peers_file.with_suffix(".tmp")
        temporary.write_text("".join(f"{m}\n" for m in sorted(members)))
        temporary.replace(self.peers_file)  # a reader sees the old list or the new one, never half

    def _members(self) -> list[str]:
        return [b.address for b in self.pool.backends.values()]

    async def add_node(self, *, when_ready: bool = True) -> Backend:
        """Start one more web node; every node's ring picks it up at its next refresh.

        With ``when_ready`` (a node added at run time) the node joins the balancer and the
        ring only once it answers its health check: joining before, the ring sent its keys to a
        process still importing, and traffic waited on it. Raises :class:`StartupError` if it
        does not come up within the ready timeout. Without it (the first nodes, before any
        traffic) it joins at once, so all start together.
        """
        async with self._lock:
            node_id = f"node-{next(self._node_numbers)}"
            port = free_port()
            backend = Backend(id=node_id, url=f"http://127.0.0.1:{port}")
            if not when_ready:
                self._write_peers([*self._members(), backend.address])
            spec = self._spec(
                node_id,
                "node",
                ["-m", "services.api"],
                {
                    "API_PORT": str(port),
                    "API_DISCOVERY": "static",
                    "API_PEERS_FILE": str(self.peers_file),
                    "API_DISCOVERY_INTERVAL_SECONDS": str(self.options.discovery_seconds),
                },
            )
            await self.supervisor.start(spec)
            if not when_ready:
                self.pool.backends[node_id] = backend
                return backend
        await self._wait_healthy(backend)
        async with self._lock:
            backend.healthy = True
            self.pool.backends[node_id] = backend
            self._write_peers(self._members())
        return backend

    async def _wait_healthy(self, backend: Backend) -> None:
        deadline = time.monotonic() + self.options.ready_timeout
        async with httpx.AsyncClient(timeout=1) as client:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{backend.url}/healthz")).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    await self.supervisor.stop(backend.id)
                    raise StartupError(
                        f"{backend.id} did not answer its health check within {self.options.ready_timeout:.0f}s; "
                        f"see {self.logs / f'{backend.id}.log'}"
                    )
                await asyncio.sleep(0.1)

    async def remove_node(self, node_id: str) -> None:
        """Take a web node out of the balancer and the ring, then stop it.

        Raises KeyError if unknown, ValueError if it is the last one.
        """
        async with self._lock:
            if node_id not in self.pool.backends:
                raise KeyError(node_id)
            if len(self.pool.backends) == 1:
                raise ValueError(f"{node_id} is the last web node; add another before removing it")
            self.pool.backends.pop(node_id)
            self._write_peers(self._members())
        await self.supervisor.stop(node_id)

    async def add_worker(self) -> str:
        """Start one more worker process; return its id."""
        worker_id = f"worker-{next(self._worker_numbers)}"
        lease = self.options.lease_seconds
        spec = self._spec(
            worker_id,
            "worker",
            ["-m", "services.worker"],
            {
                "WORKER_ID": worker_id,
                "WORKER_VISIBILITY_TIMEOUT_SECONDS": str(max(2, round(lease))),
                "WORKER_HEARTBEAT_SECONDS": str(max(0.5, lease / 2.5)),
                "WORKER_LEASE_SECONDS": str(lease),
                "WORKER_REAPER_INTERVAL_SECONDS": str(lease),
                "WORKER_RECEIVE_WAIT_SECONDS": "2",
                "WORKER_BACKOFF_BASE_SECONDS": "0.5",
                "WORKER_BACKOFF_MAX_SECONDS": "2",
                "WORKER_DRAIN_SECONDS": "5",
                "WORKER_RELAY_RETRY_SECONDS": str(lease),
            },
        )
        await self.supervisor.start(spec)
        return worker_id

    async def remove_worker(self, worker_id: str) -> None:
        """Stop a worker (it drains first). KeyError if unknown."""
        child = self.supervisor.children.get(worker_id)
        if child is None or child.spec.kind != "worker":
            raise KeyError(worker_id)
        await self.supervisor.stop(worker_id)

    async def kill_worker(self, worker_id: str) -> int:
        """``kill -9`` a worker and wait for it to die (the supervisor restarts it); return the pid killed.

        KeyError if unknown, ValueError if it is not running (it died and waits to restart).
        """
        child = self.supervisor.children.get(worker_id)
        if child is None or child.spec.kind != "worker":
            raise KeyError(worker_id)
        if not child.alive or child.pid is None:
            raise ValueError(f"{worker_id} is not running now (it is restarting); try again in a moment")
        process, pid = child.process, child.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        if process is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 5)
        return pid

    # -- admin API ------------------------------------------------------------------

    def cluster(self) -> dict[str, Any]:
        """The state ``GET /_cluster`` returns."""
        children = self.supervisor.children
        nodes = [  # in the order they were added
            {
                "id": b.id,
                "url": b.url,
                "member": b.address,
                "pid": children[b.id].pid if b.id in children else None,
                "healthy": b.healthy,
                "served": b.served,
            }
            for b in self.pool.backends.values()
        ]
        workers = [
            {"id": i, "pid": c.pid, "alive": c.alive, "restarts": c.restarts, "last_exit": c.last_exit}
            for i, c in children.items()
            if c.spec.kind == "worker"
        ]
        return {"nodes": nodes, "workers": workers}

    def queue_depths(self) -> dict[str, Any]:
        """The job queue's and the DLQ's URLs and approximate message counts."""
        sqs, queues = self._sqs, self.queues
        assert sqs is not None
        assert queues is not None

        def depth(
            url: str, name: Literal["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        ) -> int:
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[name])
            return int(attributes["Attributes"][name])

        return {
            "url": queues.jobs,
            "dead_letter_url": queues.dead_letters,
            "messages": depth(queues.jobs, "ApproximateNumberOfMessages"),
            "in_flight": depth(queues.jobs, "ApproximateNumberOfMessagesNotVisible"),
            "dead_letters": depth(queues.dead_letters, "ApproximateNumberOfMessages"),
        }

    async def _cluster_view(self, _request: Request) -> Response:
        state = self.cluster()
        state["queue"] = await asyncio.to_thread(self.queue_depths)
        return JSONResponse(state)

    async def _add_node_route(self, _request: Request) -> Response:
        try:
            backend = await self.add_node()
        except StartupError as error:
            return error_response(503, "node_not_ready", str(error))
        return JSONResponse({"id": backend.id, "url": backend.url}, status_code=201)

    async def _remove_node_route(self, request: Request) -> Response:
        node_id = request.path_params["id"]
        try:
            await self.remove_node(node_id)
        except KeyError:
            return error_response(404, "not_found", f"no web node {node_id!r}")
        except ValueError as error:
            return error_response(409, "conflict", str(error))
        return Response(status_code=204)

    async def _add_worker_route(self, _request: Request) -> Response:
        return JSONResponse({"id": await self.add_worker()}, status_code=201)

    async def _remove_worker_route(self, request: Request) -> Response:
        worker_id = request.path_params["id"]
        try:
            await self.remove_worker(worker_id)
        except KeyError:
            return error_response(404, "not_found", f"no worker {worker_id!r}")
        return Response(status_code=204)
