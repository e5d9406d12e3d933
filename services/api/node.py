"""One API node at run time: its ring membership, caches, peers, stores and background tasks.

:meth:`Node.start` builds everything from the settings (schema migrations, the first
discovery refresh) and starts the background tasks; :meth:`Node.stop` undoes it. The
routes reach the node through ``request.app.state.node``.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
import structlog
from anyio import to_thread

from services.api.forwarding import Forwarder, PeerTransport
from services.api.items import ItemService
from services.api.jobs import JobsService
from services.api.lru import LRUCache
from services.api.metrics import Metrics
from services.api.redis_tier import HotKeys, RedisTier
from services.api.settings import ApiSettings
from services.items.store import ItemStore
from services.routing.discovery import Discovery, Membership, make_discovery
from services.routing.shared_discovery import SharedDiscovery

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

_log = structlog.get_logger(__name__)


@dataclass(kw_only=True)
class Edges:
    """What a test may replace at the network edge: peers' transport, discovery, the SQS client."""

    peer_transport: PeerTransport | None = None
    discovery: Discovery | None = None
    sqs_client: SQSClient | None = None


@dataclass(kw_only=True)
class Node:
    """The running parts of one node. Create with :meth:`start`."""

    id: str
    settings: ApiSettings
    metrics: Metrics
    membership: Membership
    forwarder: Forwarder
    items: ItemService
    jobs: JobsService
    engine: sa.Engine
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    async def start(cls, settings: ApiSettings, metrics: Metrics, edges: Edges | None = None) -> Node:
        """Open the database (migrating it or checking its version), connect Redis, discover peers, start the tasks."""
        edges = edges or Edges()
        node_id = settings.node_id()
        engine = await to_thread.run_sync(settings.open_engine)
        try:
            store = await to_thread.run_sync(lambda: ItemStore(engine, migrate=settings.database_migrations == "apply"))
            if settings.database_migrations == "check":
                await to_thread.run_sync(store.check_schema)
            jobs = await to_thread.run_sync(lambda: JobsService.open(engine, settings, sqs=edges.sqs_client))
        except BaseException:
            engine.dispose()
            raise
        redis = hot_keys = None
        if settings.redis_url:
            layout = settings.layout
            token = settings.redis_auth_token.get_secret_value() if settings.redis_auth_token else None
            redis = RedisTier.from_url(
                settings.redis_url, auth_token=token, layout=layout, ttl=settings.redis_ttl_seconds, node=node_id
            )
            hot_keys = HotKeys(redis.client, layout=layout, keep=settings.api_hot_keys_max)
        cache = LRUCache(
            max_entries=settings.api_cache_max_entries,
            max_bytes=settings.api_cache_max_bytes,
            ttl=settings.api_cache_ttl_seconds,
        )
        discovery = edges.discovery or make_discovery(
            settings.api_discovery,
            port=settings.peer_port,
            peers=settings.peers or [node_id],
            peers_file=settings.api_peers_file,
            asg_name=settings.api_asg_name,
            target_group_arn=settings.api_target_group_arn,
        )
        if (
            settings.api_discovery_run_dir is not None
            and edges.discovery is None
            and settings.api_discovery != "static"
        ):
            discovery = SharedDiscovery(
                discovery, run_dir=settings.api_discovery_run_dir, interval=settings.api_discovery_interval_seconds
            )
        membership = Membership(discovery, initial=[node_id], vnodes=settings.api_ring_vnodes)
        node = cls(
            id=node_id,
            settings=settings,
            metrics=metrics,
            membership=membership,
            forwarder=Forwarder(
                node_id,
                timeout=settings.api_forward_timeout_seconds,
                suspect_seconds=settings.api_suspect_seconds,
                metrics=metrics,
                transport=edges.peer_transport,
            ),
            items=ItemService(store, cache, metrics=metrics, redis=redis, hot_keys=hot_keys),
            jobs=jobs,
            engine=engine,
        )
        metrics.cache_entries.set_function(lambda: len(cache))
        metrics.cache_bytes.set_function(lambda: cache.bytes)
        loop = asyncio.get_running_loop()

        def ring_changed(_old: tuple[str, ...], new: tuple[str, ...]) -> None:
            loop.call_soon_threadsafe(node._ring_changed, new)  # listeners run in the refresh thread

        membership.add_listener(ring_changed)
        await to_thread.run_sync(membership.refresh)  # a change it makes reaches _ring_changed via the loop
        metrics.ring_members.set(len(membership.members))
        node._spawn("discovery", membership.run(settings.api_discovery_interval_seconds))
        if redis is not None and hot_keys is not None:
            node._spawn("invalidations", redis.listen(node._invalidated, node._resubscribed))
            node._spawn("hot-keys", hot_keys.run(settings.api_hot_keys_flush_seconds))
        _log.info(
            "api node started",
            node=node_id,
            members=list(membership.members),
            discovery=discovery.describe(),
            redis=bool(redis),
            jobs=jobs.enabled,
        )
        return node

    @property
    def redis(self) -> RedisTier | None:
        """The shared Redis tier, or None when ``REDIS_URL`` is unset."""
        return self.items.redis

    async def stop(self) -> None:
        """Stop the background tasks and close every connection."""
        for task in self._tasks:
            task.cancel()
        if self.items.hot_keys is not None:
            await self.items.hot_keys.flush()
        await self.forwarder.aclose()
        if self.redis is not None:
            # Closing the pool also ends a subscriber read that swallowed its cancellation
            # (redis-py's retry layer can, depending on where the cancellation lands).
            await self.redis.aclose()
        if self._tasks:
            _, stuck = await asyncio.wait(self._tasks, timeout=2.0)
            if stuck:
                _log.warning("background tasks did not stop", tasks=[task.get_name() for task in stuck])
        self.jobs.close()
        self.engine.dispose()

    # -- routing -------------------------------------------------------------------

    def owner(self, key: str) -> str:
        """The key's owner on this node's ring (this node while the ring is empty)."""
        ring = self.membership.ring
        return ring.node_for(key) if len(ring) else self.id

    def keep_local(self, owner: str) -> bool:
        """Whether this node may cache a key ``owner`` owns: it is the owner, or write announcements reach it."""
        return owner == self.id or (self.redis is not None and self.redis.listening)

    def targets(self, key: str, owner: str, *, read: bool) -> list[str]:
        """The nodes to try for ``key``, in order; this node is always last (it can always serve).

        First the owner (for reads with a bounded-load factor, the first node clockwise
        below its load cap), then the next nodes clockwise; suspects are skipped; at most
        two peers are tried.
        """
        ring = self.membership.ring
        factor = self.settings.api_bounded_load_factor
        first = owner
        if read and factor is not None and len(ring) > 1:
            first = ring.node_for_bounded(key, self.forwarder.in_flight, factor)
        if first == self.id:
            return [self.id]
        targets: list[str] = []
        for candidate in [first, *ring.nodes_for(key, min(len(ring), 4))]:
            if candidate == self.id:
                break
            if candidate in targets or self.forwarder.is_suspect(candidate):
                continue
            targets.append(candidate)
            if len(targets) == 2:
                break
        targets.append(self.id)
        return targets

    def peer_failed(self) -> None:
        """Count a fallback and ask discovery to look again soon."""
        self.metrics.fallbacks.inc()
        self.membership.request_refresh()

    def ring_state(self) -> dict[str, Any]:
        """What ``GET /ring`` shows."""
        ring = self.membership.ring
        members = list(ring.nodes)
        return {
            "node": self.id,
            "members": members,
            "members_digest": hashlib.sha256("\n".join(members).encode()).hexdigest()[:16],
            "vnodes": ring.vnodes,
            "version": ring.version,
            "discovery": self.membership.discovery.describe(),
            "last_error": self.membership.last_error,
            "suspects": self.forwarder.suspects(),
            "bounded_load_factor": self.settings.api_bounded_load_factor,
        }

    # -- background ----------------------------------------------------------------

    def _spawn(self, name: str, work: Coroutine[Any, Any, None]) -> None:
        self._tasks.append(asyncio.create_task(work, name=name))

    def _ring_changed(self, members: tuple[str, ...]) -> None:
        """Drop the copies of keys this node no longer owns: their new owner serves them now."""
        ring = self.membership.ring
        dropped = self.items.cache.retain(lambda key: ring.node_for(key) == self.id) if len(ring) else 0
        self.metrics.ring_members.set(len(members))
        self.metrics.ring_changes.inc()
        if dropped:
            self.metrics.invalidations.labels("ring_change").inc(dropped)

    def _invalidated(self, key: str, version: int) -> None:
        self.items.invalidate(key, version)

    def _resubscribed(self) -> None:
        dropped = len(self.items.cache)
        self.items.cache.clear()
        if dropped:
            self.metrics.invalidations.labels("resubscribe").inc(dropped)
