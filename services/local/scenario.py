"""The demo scenario, driven through HTTP only (the balancer and its ``/_cluster`` admin API).

1. write items, then read them with a skewed (Zipf) key distribution: hit rate by tier;
2. add a web node: the keys that change owner (about 1/(n+1), all to the new node), the hit
   rate dipping only that much and recovering, and what ``hash % n`` would have moved;
3. submit a batch of jobs, kill a worker mid-batch (``kill -9``): every job still completes;
4. send a poison job: it fails and its message is dead-lettered.

:func:`run_scenario` returns every figure in a :class:`ScenarioResult`; the end-to-end test
asserts on it, and :mod:`services.local.demo` renders it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

import httpx

from services.api.peer_client import PeerClient
from services.routing import HashRing
from services.routing.hashing import to_bytes, xxh3_64

HIT_TIERS: Final = frozenset({"local", "redis"})
"""The ``cache`` values of an item read that count as a cache hit (the owner's memory, Redis)."""

Progress = Callable[[str, int, int], None]
"""``progress(phase, done, total)``: called as the scenario advances."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ScenarioConfig:
    """How big the scenario is; :data:`SHORT` is the end-to-end test's form."""

    items: int = 3000
    reads: int = 6000
    zipf_s: float = 1.1
    concurrency: int = 32
    # Writes queue on SQLite's one writer: at 32 at a time some forwards outlast their 0.5 s
    # timeout, the owner turns suspect, and non-owners serve (and do not cache) its keys.
    write_concurrency: int = 4
    jobs: int = 60
    job_seconds: float = 1.0
    settle_seconds: float = 60.0
    probe_keys: int = 64


SCALE_OUT_PHASE: Final = "read: during scale-out"
"""Reads of the probe keys (``probe-N``, apart from the items measured) while a node is added."""

SCALE_OUT_STALL_SECONDS: Final = 1.0
"""No read may take longer while a node is added: the change must be invisible to clients."""

SHORT = ScenarioConfig(items=400, reads=2400, jobs=24, job_seconds=0.5, concurrency=16)


@dataclass(frozen=True, slots=True)
class Sample:
    """One request as the client saw it."""

    at: float  # seconds since the scenario started, when the answer arrived
    phase: str
    status: int
    cache: str | None  # "local" | "redis" | "db" for item reads
    seconds: float = 0.0  # how long the answer took


class Answer(NamedTuple):
    """A response's status and its JSON body (empty if it had none), parsed once."""

    status: int
    body: dict[str, Any]


@dataclass(slots=True)
class ScenarioResult:
    """Everything the scenario measured."""

    nodes_before: list[str] = field(default_factory=list)
    new_node: str = ""
    items_written: int = 0
    moved_ring: dict[str, int] = field(default_factory=dict)  # new owner -> keys that moved to it
    moved_modulo: int = 0
    owner_mismatches: int = 0  # of the items written, keys whose reported owner differs from the client's ring
    hit_rate_warm: float = 0.0
    first_reads_after_scale_out: int = 0  # distinct warm keys read right after the change
    first_reads_warm: int = 0  # ... whose first read was still a cache hit
    hit_rate_after_scale_out: float = 0.0
    hit_rate_recovered: float = 0.0
    jobs_submitted: int = 0
    jobs_retried: int = 0
    job_statuses: dict[str, int] = field(default_factory=dict)
    killed_worker: str = ""
    poison_status: str = ""
    poison_error: str = ""
    poison_dead_lettered: bool = False
    scale_out_at: float = 0.0
    scale_out_done_at: float = 0.0  # every node's ring has the new node
    kill_at: float = 0.0
    samples: list[Sample] = field(default_factory=list)

    @property
    def moved_total(self) -> int:
        """Keys whose owner changed on scale-out."""
        return sum(self.moved_ring.values())

    @property
    def moved_between_old_nodes(self) -> int:
        """Keys that moved on scale-out to a node other than the new one (0 for a consistent ring)."""
        return self.moved_total - self.moved_ring.get(self.new_node, 0)

    @property
    def warm_keys_kept(self) -> float:
        """The share of warm keys whose first read after scale-out was still a cache hit."""
        return self.first_reads_warm / self.first_reads_after_scale_out if self.first_reads_after_scale_out else 0.0

    @property
    def scale_out_samples(self) -> list[Sample]:
        """The reads that ran while the node was added."""
        return [sample for sample in self.samples if sample.phase == SCALE_OUT_PHASE]

    @property
    def slowest_during_scale_out(self) -> float:
        """Seconds of the slowest read while the node was added (a stall shows here)."""
        return max((sample.seconds for sample in self.scale_out_samples), default=0.0)

    @property
    def jobs_succeeded(self) -> int:
        """Jobs of the batch that ended ``succeeded``."""
        return self.job_statuses.get("succeeded", 0)

    @property
    def server_errors(self) -> int:
        """Answers with a 5xx status."""
        return sum(1 for sample in self.samples if sample.status >= 500)


def zipf_keys(count: int, population: int, s: float, rng: random.Random) -> list[str]:
    """``count`` item keys drawn from ``population`` with Zipf exponent ``s`` (rank 1 hottest)."""
    weights = [1 / rank**s for rank in range(1, population + 1)]
    return [f"item-{i}" for i in rng.choices(range(population), weights, k=count)]


class Scenario:
    """Runs the scenario against a local system's balancer at ``url``.

    The measured requests go over the balancer's own fast keep-alive client
    (:class:`~services.api.peer_client.PeerClient`): with httpx, this client was the demo's
    bottleneck (about 1 ms of CPU a request, a third of it a failed ``import sniffio`` that
    httpcore repeats on every request). httpx stays for the few admin calls.
    """

    def __init__(self, url: str, config: ScenarioConfig, progress: Progress) -> None:
        self.url = url
        self.config = config
        self.progress = progress
        self.result = ScenarioResult()
        self._started = time.monotonic()
        self._rng = random.Random(2026)
        self._client = httpx.AsyncClient(base_url=url, timeout=30)
        self._fast = PeerClient(max_idle_per_peer=config.concurrency * 2)
        self._balancer = url.removeprefix("http://").rstrip("/")

    async def close(self) -> None:
        """Close the HTTP clients."""
        await self._client.aclose()
        await self._fast.aclose()

    def _now(self) -> float:
        return time.monotonic() - self._started

    async def _request(
        self, phase: str, method: str, path: str, *, json_body: object = None, headers: dict[str, str] | None = None
    ) -> Answer:
        """Send one request through the balancer and record it as a :class:`Sample`."""
        body = None if json_body is None else json.dumps(json_body).encode()
        sent = time.monotonic()
        async with asyncio.timeout(30):
            response = await self._fast.request(self._balancer, method, path, body, list((headers or {}).items()))
        took = time.monotonic() - sent
        is_json = response.content_type.startswith("application/json")
        answer = Answer(response.status, json.loads(response.body) if is_json and response.body else {})
        self.result.samples.append(Sample(self._now(), phase, answer.status, answer.body.get("cache"), took))
        return answer

    async def _many(
        self, phase: str, calls: list[tuple[str, str, dict[str, Any]]], concurrency: int | None = None
    ) -> list[Answer]:
        done = 0
        semaphore = asyncio.Semaphore(concurrency or self.config.concurrency)

        async def one(method: str, path: str, kwargs: dict[str, Any]) -> Answer:
            nonlocal done
            async with semaphore:
                answer = await self._request(phase, method, path, **kwargs)
            done += 1
            if done % 50 == 0 or done == len(calls):
                self.progress(phase, done, len(calls))
            return answer

        return await asyncio.gather(*(one(m, p, k) for m, p, k in calls))

    async def cluster(self) -> dict[str, Any]:
        """The balancer's view of the system."""
        response = await self._client.get("/_cluster")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    async def _rings_agree(self, members: int, timeout: float) -> list[str]:
        """Wait until every node reports a ring of ``members`` members; return them."""
        deadline = time.monotonic() + timeout
        while True:
            nodes = (await self.cluster())["nodes"]
            views = []
            for node in nodes:
                try:
                    views.append(tuple((await self._client.get(f"{node['url']}/ring")).json()["members"]))
                except httpx.HTTPError:
                    views.append(())
            if len(set(views)) == 1 and len(views[0]) == members:
                return list(views[0])
            if time.monotonic() > deadline:
                raise TimeoutError(f"the nodes' rings did not agree on {members} members within {timeout:.0f}s")
            await asyncio.sleep(0.3)

    # -- the steps ------------------------------------------------------------------

    async def write_items(self) -> dict[str, str]:
        """PUT every item; return the owner each write reported."""
        calls = [
            ("PUT", f"/items/item-{i}", {"json_body": {"value": {"n": i, "text": f"value {i}"}}})
            for i in range(self.config.items)
        ]
        answers = await self._many("write", calls, self.config.write_concurrency)
        owners = {a.body["key"]: a.body["owner"] for a in answers if a.status in (200, 201)}
        self.result.items_written = len(owners)
        return owners

    async def read(self, phase: str, count: int) -> tuple[Counter[str], dict[str, str]]:
        """GET ``count`` Zipf-distributed keys; return the reads per cache tier and each key's first tier."""
        keys = zipf_keys(count, self.config.items, self.config.zipf_s, self._rng)
        answers = await self._many(phase, [("GET", f"/items/{k}", {}) for k in keys])
        tiers = [a.body["cache"] if a.status == 200 else "error" for a in answers]
        first: dict[str, str] = {}
        for key, tier in zip(keys, tiers, strict=True):
            first.setdefault(key, tier)
        return Counter(tiers), first

    async def scale_out(self, owners_before: dict[str, str]) -> None:
        """Add a node under steady reads; measure movement of ownership against the optimum and modulo.

        The reads (of probe keys, so the items' warm-key figures stay clean) run from before the
        node is asked for until every ring has it: a stall of the change would show in them.
        """
        result = self.result
        before = await self._rings_agree(len((await self.cluster())["nodes"]), self.config.settle_seconds)
        result.nodes_before = before
        probes = [f"/items/probe-{i}" for i in range(self.config.probe_keys)]
        writes = [("PUT", path, {"json_body": {"value": "probe"}}) for path in probes]
        await self._many("write: probe keys", writes, self.config.write_concurrency)
        changed = asyncio.Event()
        steady = asyncio.create_task(self._steady_reads(probes, changed))
        try:
            await asyncio.sleep(0.5)  # steady traffic first, so the chart shows the rate before the change
            result.scale_out_at = self._now()
            added = (await self._client.post("/_cluster/nodes")).json()
            await self._wait_healthy(added["id"])
            after = await self._rings_agree(len(before) + 1, self.config.settle_seconds)
            result.scale_out_done_at = self._now()
            await asyncio.sleep(0.5)
        finally:
            changed.set()
            await steady
        result.new_node = next(m for m in after if m not in before)
        ring_before, ring_after = HashRing(before), HashRing(after)
        keys = [f"item-{i}" for i in range(self.config.items)]
        moved = Counter(new for key in keys if (new := ring_after.node_for(key)) != ring_before.node_for(key))
        result.moved_ring = dict(moved)
        hashes = [xxh3_64(to_bytes(k)) for k in keys]
        result.moved_modulo = sum(1 for h in hashes if before[h % len(before)] != after[h % len(after)])
        # The nodes must agree with the ring this client computes: check the owners they reported.
        result.owner_mismatches = sum(1 for k, owner in owners_before.items() if ring_before.node_for(k) != owner)

    async def _steady_reads(self, paths: list[str], stop: asyncio.Event) -> None:
        """Read ``paths`` round and round with the configured concurrency until ``stop`` is set."""
        turns = itertools.count()

        async def reader() -> None:
            while not stop.is_set():
                await self._request(SCALE_OUT_PHASE, "GET", paths[next(turns) % len(paths)])

        await asyncio.gather(*(reader() for _ in range(self.config.concurrency)))

    async def _wait_healthy(self, node_id: str) -> None:
        deadline = time.monotonic() + self.config.settle_seconds
        while time.monotonic() < deadline:
            nodes = {n["id"]: n for n in (await self.cluster())["nodes"]}
            if nodes.get(node_id, {}).get("healthy"):
                return
            await asyncio.sleep(0.3)
        raise TimeoutError(f"node {node_id} did not become healthy")

    async def jobs_with_a_crash(self) -> None:
        """Submit a batch of sleep jobs, kill -9 a worker while they run, wait for all to finish."""
        config, result = self.config, self.result
        calls = [
            (
                "POST",
                "/jobs",
                {
                    "json_body": {"type": "sleep", "payload": {"seconds": config.job_seconds}},
                    "headers": {"Idempotency-Key": f"demo-{self._started}-{i}"},
                },
            )
            for i in range(config.jobs)
        ]
        accepted = [a.body["id"] for a in await self._many("jobs: submit", calls) if a.status == 202]
        result.jobs_submitted = len(accepted)
        await asyncio.sleep(config.job_seconds / 2)
        workers = [w for w in (await self.cluster())["workers"] if w["alive"]]
        if workers:
            victim = workers[0]
            os.kill(victim["pid"], signal.SIGKILL)  # a crash, not a shutdown: no drain, no release
            result.killed_worker = victim["id"]
            result.kill_at = self._now()
        statuses = await self._wait_jobs(accepted, "jobs: done")
        result.job_statuses = dict(Counter(s["status"] for s in statuses))
        result.jobs_retried = sum(1 for s in statuses if s["attempts"] > 1)

    async def _wait_jobs(self, ids: list[str], phase: str) -> list[dict[str, Any]]:
        deadline = time.monotonic() + self.config.settle_seconds
        pending = set(ids)
        final: dict[str, dict[str, Any]] = {}
        while pending and time.monotonic() < deadline:
            for job_id in list(pending):
                job = (await self._request(phase, "GET", f"/jobs/{job_id}")).body
                if job["status"] in ("succeeded", "failed"):
                    final[job_id] = job
                    pending.discard(job_id)
            self.progress(phase, len(final), len(ids))
            if pending:
                await asyncio.sleep(0.5)
        for job_id in pending:
            final[job_id] = (await self._request(phase, "GET", f"/jobs/{job_id}")).body
        return list(final.values())

    async def poison(self) -> None:
        """Send a job that always fails; wait until it is failed and its message is in the DLQ."""
        result = self.result
        accepted = await self._request(
            "poison", "POST", "/jobs", json_body={"type": "fail", "payload": {"message": "poison"}}
        )
        job = (await self._wait_jobs([accepted.body["id"]], "poison"))[0]
        result.poison_status, result.poison_error = job["status"], job.get("error") or ""
        deadline = time.monotonic() + self.config.settle_seconds
        while time.monotonic() < deadline:
            if (await self.cluster())["queue"]["dead_letters"] > 0:
                result.poison_dead_lettered = True
                return
            await asyncio.sleep(0.5)


def hit_rate(tiers: Counter[str]) -> float:
    """Reads served from a cache (the owner's memory or Redis) over all reads."""
    total = sum(tiers.values())
    return sum(tiers[tier] for tier in HIT_TIERS) / total if total else 0.0


async def run_scenario(url: str, config: ScenarioConfig, progress: Progress) -> ScenarioResult:
    """Run all four steps against the balancer at ``url``."""
    scenario = Scenario(url, config, progress)
    try:
        result = scenario.result
        owners = await scenario.write_items()
        await scenario.read("read: warm-up", config.reads)
        warm, warm_first = await scenario.read("read: warm", config.reads)
        result.hit_rate_warm = hit_rate(warm)
        await scenario.scale_out(owners)
        after, first = await scenario.read("read: after scale-out", config.reads)
        result.hit_rate_after_scale_out = hit_rate(after)
        # Keys that were warm before the change: how many were still cached on their first read after it?
        was_warm = [key for key in first if key in warm_first]
        result.first_reads_after_scale_out = len(was_warm)
        result.first_reads_warm = sum(1 for key in was_warm if first[key] in HIT_TIERS)
        result.hit_rate_recovered = hit_rate((await scenario.read("read: recovered", config.reads))[0])
        await scenario.jobs_with_a_crash()
        await scenario.poison()
        return result
    finally:
        await scenario.close()
