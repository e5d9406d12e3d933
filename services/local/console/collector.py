"""Samples the running system about once a second for the console.

Every figure comes from the parts themselves: each node's ``/metrics`` (requests, cache reads
by tier) and ``/ring``, the balancer's own counts (health, requests in flight), the supervisor
(workers alive, restarts), SQS's approximate queue counts and the jobs table. Rates are the
change of a node's counters between two samples over the time between them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import httpx
import sqlalchemy as sa
import structlog
from prometheus_client.parser import text_string_to_metric_families

from services.db import make_engine
from services.jobs.model import JobStatus
from services.jobs.schema import jobs
from services.jobs.types import declared
from services.local.console.ringview import arcs, movement
from services.routing import DEFAULT_VNODES, HashRing

if TYPE_CHECKING:
    from services.local.cluster import LocalSystem

log = structlog.get_logger(__name__)

HISTORY: Final = 300
"""Samples kept for the charts: five minutes at one a second."""
NOT_TRAFFIC: Final = frozenset({"/metrics", "/ring", "/healthz", "/readyz"})
"""Routes of health checks and the console's own scrapes: left out of requests/s."""
TIERS: Final = ("local", "redis", "db", "missing")


@dataclass(slots=True)
class NodeCounters:
    """A node's cumulative counters at one scrape."""

    at: float
    requests: float
    reads: dict[str, float]


def parse_counters(text: str, at: float) -> NodeCounters:
    """The request and cache-read totals of a node's Prometheus text."""
    requests, reads = 0.0, dict.fromkeys(TIERS, 0.0)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "api_requests_total" and sample.labels.get("route") not in NOT_TRAFFIC:
                requests += sample.value
            elif sample.name == "api_item_reads_total" and sample.labels.get("tier") in reads:
                reads[sample.labels["tier"]] += sample.value
    return NodeCounters(at, requests, reads)


@dataclass(frozen=True, slots=True)
class Rates:
    """Requests/s and item reads/s by tier between two scrapes; None where unknown."""

    rps: float | None = None
    reads: dict[str, float] | None = None


def rates(before: NodeCounters | None, now: NodeCounters) -> Rates:
    """The rates between two scrapes (unknown on the first, or across a node's restart)."""
    if before is None or now.at <= before.at or now.requests < before.requests:
        return Rates()
    seconds = now.at - before.at
    return Rates(
        round((now.requests - before.requests) / seconds, 2),
        {t: round((now.reads[t] - before.reads[t]) / seconds, 2) for t in TIERS},
    )


def hit_rate(reads: dict[str, float] | None) -> float | None:
    """Reads served by a cache (local or Redis) over reads that found an item; None without reads."""
    if not reads:
        return None
    found = reads["local"] + reads["redis"] + reads["db"]
    return round((reads["local"] + reads["redis"]) / found, 4) if found else None


@dataclass(slots=True)
class Collector:
    """Samples ``system`` every ``interval`` seconds while started; :attr:`latest` is the last sample."""

    system: LocalSystem
    interval: float = 1.0
    latest: dict[str, Any] = field(default_factory=dict)
    history: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=HISTORY))
    markers: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=50))
    last_change: dict[str, Any] | None = None
    names: dict[str, str] = field(default_factory=dict)  # member (host:port) -> node id, every one seen
    _counters: dict[str, NodeCounters] = field(default_factory=dict)
    _ring: HashRing | None = None
    _vnodes: int = DEFAULT_VNODES
    _task: asyncio.Task[None] | None = None
    _client: httpx.AsyncClient | None = None
    _engine: sa.Engine | None = None
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    closed: bool = False

    def start(self) -> None:
        """Start sampling (again a no-op once started)."""
        if self._task is None and not self.closed:
            self._client = httpx.AsyncClient(timeout=min(2.0, self.interval * 2))
            self._engine = make_engine(self.system.database_url)
            self._task = asyncio.create_task(self._loop(), name="console-collector")

    async def close(self) -> None:
        """Stop sampling and wake every stream so it ends."""
        self.closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._client is not None:
            await self._client.aclose()
        if self._engine is not None:
            self._engine.dispose()
        async with self._changed:
            self._changed.notify_all()

    @property
    def vnodes(self) -> int:
        """Points per node on the ring, as the nodes last reported it."""
        return self._vnodes

    async def next_sample(self, after: float) -> dict[str, Any] | None:
        """The first sample taken after ``after`` (its ``at``), waiting for it; None once closed."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.closed or self.latest.get("at", 0) > after)
        return None if self.closed else self.latest

    async def _loop(self) -> None:
        while True:
            started = time.monotonic()
            try:
                sample = await self.sample()
            except Exception as error:  # a sample that fails is skipped; the next one tries again
                log.warning("console sample failed", error=f"{type(error).__name__}: {error}")
            else:
                async with self._changed:
                    self.latest = sample
                    self._changed.notify_all()
            await asyncio.sleep(max(0.05, self.interval - (time.monotonic() - started)))

    async def sample(self) -> dict[str, Any]:
        """One sample of the whole system."""
        system = self.system
        backends = list(system.pool.backends.values())
        for backend in backends:
            self.names[backend.address] = backend.id
        scraped = await asyncio.gather(*(self._scrape(b.url) for b in backends))
        nodes: list[dict[str, Any]] = []
        figures_by_node: list[Rates] = []
        for backend, (counters, ring_view) in zip(backends, scraped, strict=True):
            figures = rates(self._counters.get(backend.id), counters) if counters else Rates()
            if counters:
                self._counters[backend.id] = counters
            figures_by_node.append(figures)
            if ring_view:
                self._vnodes = int(ring_view.get("vnodes", self._vnodes))
            nodes.append(
                {
                    "id": backend.id,
                    "member": backend.address,
                    "healthy": backend.healthy,
                    "in_flight": backend.outstanding,
                    "served": backend.served,
                    "rps": figures.rps,
                    "reads": figures.reads,
                    "hit_rate": hit_rate(figures.reads),
                    "ring_members": len(ring_view["members"]) if ring_view else None,
                    "ring_version": ring_view.get("version") if ring_view else None,
                }
            )
        now = time.time()
        ring = self._update_ring([b.address for b in backends], now)
        database, queue = await asyncio.gather(
            asyncio.to_thread(self._database), asyncio.to_thread(system.queue_depths)
        )
        rps = [f.rps for f in figures_by_node if f.rps is not None]
        reads = [f.reads for f in figures_by_node if f.reads]
        total_reads = {t: sum(r[t] for r in reads) for t in TIERS} if reads else None
        point = {"at": now, "rps": round(sum(rps), 2) if rps else None, "hit_rate": hit_rate(total_reads)}
        self.history.append(point)
        running = database["running"]
        workers = [{**worker, "jobs": running.get(worker["id"], [])} for worker in system.cluster()["workers"]]
        return {
            "at": now,
            "interval": self.interval,
            "nodes": nodes,
            "ring": {
                "members": sorted(self.names.get(m, m) for m in ring.nodes),
                "vnodes": ring.vnodes,
                "arcs": arcs(ring, self.names),
                "shares": {self.names.get(m, m): round(s, 6) for m, s in ring.shares().items()},
            },
            "workers": workers,
            "queue": queue,
            "jobs": database["counts"],
            "job_types": [t.name for t in declared()],
            "membership": self.last_change,
            "history": list(self.history),
            "markers": list(self.markers),
            "load": system.console_load.state(),
            "redis": system.redis_state(),
        }

    def _update_ring(self, members: list[str], now: float) -> HashRing:
        ring = HashRing(members, vnodes=self._vnodes)
        previous = self._ring
        if previous is not None and set(previous.nodes) != set(members):
            change = movement(previous, ring, self.names)
            change["at"] = now
            self.last_change = change
            joined, left = change["joined"], change["left"]
            label = ", ".join([*(f"+{n}" for n in joined), *(f"-{n}" for n in left)])
            self.markers.append({"at": now, "label": label})
        self._ring = ring
        return ring

    async def _scrape(self, url: str) -> tuple[NodeCounters | None, dict[str, Any] | None]:
        assert self._client is not None
        try:
            metrics, ring = await asyncio.gather(self._client.get(f"{url}/metrics"), self._client.get(f"{url}/ring"))
        except httpx.HTTPError:
            return None, None
        counters = parse_counters(metrics.text, time.monotonic()) if metrics.status_code == 200 else None
        return counters, (ring.json() if ring.status_code == 200 else None)

    def _database(self) -> dict[str, Any]:
        assert self._engine is not None
        counts = dict.fromkeys((s.value for s in JobStatus), 0)
        running: dict[str, list[dict[str, str]]] = {}
        with self._engine.connect() as conn:
            for status, count in conn.execute(sa.select(jobs.c.status, sa.func.count()).group_by(jobs.c.status)):
                counts[status] = count
            rows = conn.execute(
                sa.select(jobs.c.id, jobs.c.type, jobs.c.lease_owner).where(jobs.c.status == JobStatus.RUNNING.value)
            )
            for job_id, job_type, owner in rows:
                worker = (owner or "").split("#", 1)[0]  # a claim's owner is "<worker id>#<claim number>"
                running.setdefault(worker, []).append({"id": job_id, "type": job_type})
        return {"counts": counts, "running": running}
