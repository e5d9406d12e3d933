"""Fixtures of the API tests: nodes in this process (peers reach each other through ASGI
transports, a fake only at the network edge) and real nodes as uvicorn processes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from services.api.app import create_app
from services.api.forwarding import FORWARDED_HEADER, PeerTransport
from services.api.node import Edges, Node
from services.api.peer_client import PeerConnectionError, PeerResponse
from services.api.settings import ApiSettings, load_settings
from services.routing.discovery import write_members
from tests.api.processes import NodeProcesses


@pytest.fixture(autouse=True)
def _no_settings_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests say every setting they rely on; none leaks in from the environment."""
    for name in ApiSettings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)


def node_settings(database_url: str, node_id: str = "127.0.0.1:8080", **overrides: Any) -> ApiSettings:
    """Settings of one test node: quiet logs, its own id, a fast discovery refresh."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "api_node_id": node_id,
        "log_level": "WARNING",
        "api_discovery_interval_seconds": 0.2,
    }
    values.update(overrides)
    return load_settings(**values)


class PeerNetwork:
    """A peer transport that routes each request to the in-process app named by its
    host:port: a node that is down refuses the connection, a slow one answers late."""

    def __init__(self) -> None:
        self.apps: dict[str, httpx.AsyncClient] = {}
        self.down: set[str] = set()
        self.delay: dict[str, float] = {}
        self.calls: list[tuple[str, str, str]] = []

    def forwarder_of(self, node_id: str) -> PeerTransport:
        network = self

        class Transport:
            async def request(self, peer: str, method: str, path: str, body: bytes | None = None) -> PeerResponse:
                network.calls.append((peer, method, path))
                if peer in network.down or peer not in network.apps:
                    raise PeerConnectionError(f"cannot connect to {peer}: refused")
                if peer in network.delay:
                    await anyio.sleep(network.delay[peer])
                headers = {FORWARDED_HEADER: node_id, "content-type": "application/json"}
                answer = await network.apps[peer].request(method, path, content=body, headers=headers)
                return PeerResponse(answer.status_code, answer.content, answer.headers["content-type"])

            async def aclose(self) -> None:
                pass

        return Transport()


class Cluster:
    """Nodes in this process that share a database and a peers file; clients address each node."""

    def __init__(self, database_url: str, peers_file: Path) -> None:
        self.database_url = database_url
        self.peers_file = peers_file
        self.network = PeerNetwork()
        self.nodes: dict[str, Node] = {}
        self.clients: dict[str, httpx.AsyncClient] = {}
        self._stack = contextlib.AsyncExitStack()

    def set_members(self, members: list[str]) -> None:
        write_members(self.peers_file, members)

    async def start(self, names: list[str], **overrides: Any) -> None:
        """Start nodes ``names``. Forwards wait up to 30 s unless a test sets a shorter timeout: a
        busy machine can hold an in-process forward past the default 0.5 s, and the fallback and
        suspicion that follow would move writes and reads away from their owners."""
        for name in names:
            settings = node_settings(
                self.database_url,
                name,
                api_peers_file=self.peers_file,
                **{"api_discovery_interval_seconds": 60.0, "api_forward_timeout_seconds": 30.0, **overrides},
            )
            app = create_app(settings, edges=Edges(peer_transport=self.network.forwarder_of(name)))
            await self._stack.enter_async_context(app.router.lifespan_context(app))
            self.nodes[name] = app.state.node
            client = await self._stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{name}")
            )
            self.clients[name] = self.network.apps[name] = client

    async def refresh(self) -> None:
        """Make every node read the peers file now (as its interval would)."""
        for node in self.nodes.values():
            await anyio.to_thread.run_sync(node.membership.refresh)
        await anyio.sleep(0)  # let the ring-change callbacks run on the loop

    async def aclose(self) -> None:
        await self._stack.aclose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'app.db'}"


@pytest.fixture
async def cluster(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Cluster]:
    """An empty in-process cluster; call ``await cluster.start([...])``."""
    group = Cluster(sqlite_url, tmp_path / "peers.txt")
    try:
        yield group
    finally:
        await group.aclose()


@pytest.fixture
async def node(sqlite_url: str) -> AsyncIterator[tuple[Node, httpx.AsyncClient]]:
    """One node on its own (static discovery of itself), and a client for it."""
    app = create_app(node_settings(sqlite_url))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8080") as client,
    ):
        yield app.state.node, client


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[NodeProcesses]:
    """Real nodes as uvicorn processes on loopback; all are stopped afterwards."""
    group = NodeProcesses(tmp_path)
    try:
        yield group
    finally:
        group.stop_all()
