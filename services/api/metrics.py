"""Prometheus metrics of one node, and the ASGI middleware that counts requests.

Each app has its own registry, so several nodes can live in one test process. Labelled
children are cached, so counting a request costs two dictionary lookups and an observe.

A node served by several worker processes (``API_WORKERS``) runs with
``PROMETHEUS_MULTIPROC_DIR`` set: every process then writes its values there and
:func:`exposition` reports their sum, whichever process answers the scrape (the local
cache's size gauges, computed on demand, are left out in that mode).
"""

from __future__ import annotations

import os
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    """The node's metrics, all in :attr:`registry`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "api_requests", "HTTP requests by route template and status", ["method", "route", "status"], registry=r
        )
        self.latency = Histogram(
            "api_request_duration_seconds",
            "HTTP request latency by route template",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.item_reads = Counter(
            "api_item_reads", "Item reads served here, by the tier that answered (missing: 404)", ["tier"], registry=r
        )
        self.forwards = Counter(
            "api_forwards", "Requests forwarded to a peer, by outcome (ok, error, timeout)", ["outcome"], registry=r
        )
        self.forward_latency = Histogram(
            "api_forward_duration_seconds", "Latency of forwards to peers", buckets=_LATENCY_BUCKETS, registry=r
        )
        self.fallbacks = Counter(
            "api_forward_fallbacks", "Requests served by a later node after the owner failed", registry=r
        )
        self.invalidations = Counter(
            "api_cache_invalidations", "Local cache entries dropped, by reason", ["reason"], registry=r
        )
        self.ring_members = Gauge(
            "api_ring_members", "Members of this node's hash ring", registry=r, multiprocess_mode="livemax"
        )
        self.ring_changes = Counter("api_ring_changes", "Membership changes applied to the ring", registry=r)
        self.cache_entries = Gauge("api_cache_entries", "Entries in the local LRU", registry=r)
        self.cache_bytes = Gauge("api_cache_bytes", "Bytes charged to the local LRU", registry=r)
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self.tier = {tier: self.item_reads.labels(tier) for tier in ("local", "redis", "db", "missing")}
        self.outcome = {outcome: self.forwards.labels(outcome) for outcome in ("ok", "error", "timeout")}

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one request and its latency."""
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = self.requests.labels(method, route, str(status)), self.latency.labels(method, route)
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)


def exposition(registry: CollectorRegistry) -> bytes:
    """The Prometheus text of ``registry``, or of every process of this node under ``PROMETHEUS_MULTIPROC_DIR``."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return generate_latest(registry)
    processes = CollectorRegistry()
    MultiProcessCollector(processes, path=directory)  # type: ignore[no-untyped-call]
    return generate_latest(processes)


class MetricsMiddleware:
    """Pure ASGI middleware: counts every HTTP request by its route template (``unmatched`` for 404s)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.observe_request(scope["method"], template, status, time.perf_counter() - start)
