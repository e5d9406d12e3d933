"""Benchmark: the API node's read path against a bare FastAPI endpoint, on loopback.

Same run, same machine, same uvicorn settings (uvloop, httptools, no access log): the
servers share one core and the load generator (an asyncio HTTP/1.1 keep-alive client,
garbage collector off) runs on the other. Contenders:

- bare: a FastAPI endpoint returning a constant: the ceiling for any endpoint.
- local: ``GET /items/{key}`` served from the receiving node's own cache.
- forwarded: ``GET /items/{key}`` for a key another node owns: one hop to the owner,
  which answers from its cache.

Throughput is measured with 16 connections (best of 3 rounds, contenders in turns);
the cost of a forward is the difference of median latencies one request at a time.
Then 4 nodes are warmed with every key, a 5th node joins, and every key is read once:
the share answered from a local cache is the hit rate right after scale-out, shown
beside what modulo routing (hash % n) would have kept of the same keys. Prints the
targets of issue 5 and writes results/bench_api.json. Traffic goes to 127.0.0.1 only.

    python scripts/bench_api.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvloop
from benchkit import make_console, new_results, print_targets, save_results
from rich.console import Console
from rich.table import Table

from services.local.cluster import free_port
from services.routing import HashRing, xxh3_64
from services.routing.discovery import write_members

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results" / "bench_api.json"
CONNECTIONS = 16
NODES = 4


# -- the bare endpoint -------------------------------------------------------------------


def serve_bare(port: int) -> None:
    """Serve a FastAPI app with one constant endpoint, configured like an API node."""
    import uvicorn
    from fastapi import FastAPI
    from starlette.responses import Response

    app = FastAPI()

    @app.get("/bare")
    async def bare() -> Response:
        return Response(b'{"ok":true}', media_type="application/json")

    uvicorn.run(app, host="127.0.0.1", port=port, loop="uvloop", http="httptools", access_log=False, log_level="error")


# -- processes -----------------------------------------------------------------------------


class Servers:
    """Server processes pinned to one core, logging to files in a scratch directory."""

    def __init__(self, workdir: Path, cpu: int | None) -> None:
        self.workdir = workdir
        self.cpu = cpu
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, args: list[str], env: dict[str, str], port: int) -> str:
        log = (self.workdir / f"server-{port}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING", **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        if self.cpu is not None:
            os.sched_setaffinity(proc.pid, {self.cpu})
        self.procs.append(proc)
        return f"127.0.0.1:{port}"

    def wait(self, addresses: list[str], path: str = "/healthz", timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        for address in addresses:
            while True:
                try:
                    if httpx.get(f"http://{address}{path}", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{address} did not start; see the logs in {self.workdir}")
                time.sleep(0.1)

    def stop(self) -> None:
        for proc in self.procs:
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# -- the load generator --------------------------------------------------------------------


@dataclass
class Run:
    """One measurement: requests per second and latency percentiles in milliseconds."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    client_busy: float
    """The load generator's share of its core: near 1.0 it, not the server, set the pace."""


def _percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


class _Client(asyncio.Protocol):
    """One keep-alive connection sending GETs back to back; a protocol, not streams, so the
    load generator stays several times faster than the servers it measures."""

    def __init__(self, requests: list[bytes], offset: int, deadline: float, latencies: list[float]) -> None:
        self.requests, self.i, self.deadline, self.latencies = requests, offset, deadline, latencies
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.statuses: Counter[int] = Counter()
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.start = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._send()

    def _send(self) -> None:
        assert self.transport is not None
        self.start = time.perf_counter()
        if self.start >= self.deadline:
            self.transport.close()
            return
        self.transport.write(self.requests[self.i % len(self.requests)])
        self.i += 1

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = self.buffer[:end].lower()
        at = head.index(b"content-length:") + 15
        stop = head.find(b"\r\n", at)
        total = end + 4 + int(head[at : stop if stop > 0 else None])
        if len(self.buffer) < total:
            return
        self.latencies.append(time.perf_counter() - self.start)
        self.statuses[int(head[9:12])] += 1
        self.buffer = self.buffer[total:]
        self._send()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def _run_clients(
    address: str, requests: list[bytes], connections: int, seconds: float, latencies: list[float]
) -> Counter[int]:
    host, port = address.rsplit(":", 1)
    loop = asyncio.get_running_loop()
    deadline = time.perf_counter() + seconds
    clients = [_Client(requests, i * 7919, deadline, latencies) for i in range(connections)]
    for client in clients:
        await loop.create_connection(lambda client=client: client, host, int(port))  # type: ignore[misc]
    await asyncio.gather(*(client.done for client in clients))
    return sum((client.statuses for client in clients), Counter())


async def load(address: str, paths: list[str], *, connections: int, seconds: float) -> Run:
    """Closed-loop GETs of ``paths`` (in turns) over ``connections`` keep-alive connections."""
    requests = [f"GET {path} HTTP/1.1\r\nHost: {address}\r\n\r\n".encode() for path in paths]
    await _run_clients(address, requests, connections, 0.2, [])  # warm-up: connections, caches, code paths
    latencies: list[float] = []
    start, cpu = time.perf_counter(), time.process_time()
    statuses = await _run_clients(address, requests, connections, seconds, latencies)
    elapsed = time.perf_counter() - start
    latencies.sort()
    return Run(
        rps=len(latencies) / elapsed,
        p50_ms=_percentile(latencies, 0.50) * 1000,
        p99_ms=_percentile(latencies, 0.99) * 1000,
        requests=len(latencies),
        errors=sum(count for status, count in statuses.items() if status != 200),
        client_busy=(time.process_time() - cpu) / elapsed,
    )


# -- the scenarios -------------------------------------------------------------------------


def keys_owned(ring: HashRing, owner: str, count: int, prefix: str) -> list[str]:
    found: list[str] = []
    i = 0
    while len(found) < count:
        key = f"{prefix}:{i}"
        if ring.node_for(key) == owner:
            found.append(key)
        i += 1
    return found


async def write_keys(entries: list[str], keys: list[str]) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        semaphore = asyncio.Semaphore(16)

        async def put(i: int, key: str) -> None:
            async with semaphore:
                response = await http.put(f"http://{entries[i % len(entries)]}/items/{key}", json={"value": {"k": key}})
                response.raise_for_status()

        await asyncio.gather(*(put(i, key) for i, key in enumerate(keys)))


async def read_tiers(entries: list[str], keys: list[str]) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=10) as http:
        semaphore = asyncio.Semaphore(16)

        async def get(i: int, key: str) -> dict[str, Any]:
            async with semaphore:
                response = await http.get(f"http://{entries[i % len(entries)]}/items/{key}")
                response.raise_for_status()
                answer: dict[str, Any] = response.json()
                return answer

        return list(await asyncio.gather(*(get(i, key) for i, key in enumerate(keys))))


async def wait_for_members(addresses: list[str], members: list[str], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=5) as http:
        while True:
            views = [(await http.get(f"http://{a}/ring")).json()["members"] for a in addresses]
            if all(view == sorted(members) for view in views):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"rings did not converge: {views}")
            await asyncio.sleep(0.05)


async def throughput(bare: str, nodes: list[str], rounds: int, seconds: float) -> dict[str, Any]:
    """Interleaved rounds of bare / local / forwarded, with 16 connections and with 1."""
    ring = HashRing(nodes)
    entry, owner = nodes[0], nodes[1]
    local_keys = keys_owned(ring, entry, 200, "local")
    remote_keys = keys_owned(ring, owner, 200, "remote")
    await write_keys([entry], local_keys + remote_keys)  # each write leaves the value in its owner's cache
    sample = await read_tiers([entry], [local_keys[0], remote_keys[0]])
    assert [(s["served_by"], s["cache"]) for s in sample] == [(entry, "local"), (owner, "local")], sample
    contenders = {
        "bare": (bare, ["/bare"]),
        "local": (entry, [f"/items/{key}" for key in local_keys]),
        "forwarded": (entry, [f"/items/{key}" for key in remote_keys]),
    }
    runs: dict[str, dict[str, list[Run]]] = {name: {"loaded": [], "single": []} for name in contenders}
    for _ in range(rounds):
        for name, (address, paths) in contenders.items():
            runs[name]["loaded"].append(await load(address, paths, connections=CONNECTIONS, seconds=seconds))
            runs[name]["single"].append(await load(address, paths, connections=1, seconds=seconds / 2))
    summary: dict[str, Any] = {}
    for name, by_mode in runs.items():
        best = max(by_mode["loaded"], key=lambda run: run.rps)
        quiet = min(by_mode["single"], key=lambda run: run.p50_ms)
        errors = sum(run.errors for mode in by_mode.values() for run in mode)
        summary[name] = {"loaded": vars(best), "single": vars(quiet), "errors": errors}
    return summary


async def scale_out(nodes: list[str], newcomer: str, peers_file: Path, key_count: int) -> dict[str, Any]:
    """Warm 4 nodes, add a 5th, read every key once: the share of local hits, and hash % n's."""
    keys = [f"user:{i}" for i in range(key_count)]
    await write_keys(nodes, keys)
    warm = await read_tiers(nodes, keys)
    before = sum(answer["cache"] == "local" for answer in warm) / len(keys)
    write_members(peers_file, [*nodes, newcomer])
    await wait_for_members([*nodes, newcomer], [*nodes, newcomer])
    after_answers = await read_tiers([*nodes, newcomer], keys)
    after = sum(answer["cache"] == "local" for answer in after_answers) / len(keys)
    old_ring, new_ring = HashRing(nodes), HashRing([*nodes, newcomer])
    kept_by_ring = sum(old_ring.node_for(k) == new_ring.node_for(k) for k in keys) / len(keys)
    hashes = [xxh3_64(k.encode()) for k in keys]
    kept_by_modulo = sum(h % len(nodes) == h % (len(nodes) + 1) for h in hashes) / len(keys)
    return {
        "keys": key_count,
        "hit_rate_before": before,
        "hit_rate_after": after,
        "ring_kept_predicted": kept_by_ring,
        "modulo_kept": kept_by_modulo,
        "optimum": 1 - 1 / (len(nodes) + 1),
    }


def report(console: Console, results: dict[str, Any]) -> dict[str, bool]:
    speed = results["throughput"]
    table = Table(title=f"GET latency and throughput on loopback ({results['date'][:10]})")
    for column in ("endpoint", "req/s (16 conn)", "vs bare", "p50 ms", "p99 ms", "p50 ms (1 conn)", "p99 ms (1 conn)"):
        table.add_column(column, justify="right")
    for name, m in speed.items():
        table.add_row(
            name,
            f"{m['loaded']['rps']:,.0f}",
            f"{m['loaded']['rps'] / speed['bare']['loaded']['rps']:.0%}",
            f"{m['loaded']['p50_ms']:.2f}",
            f"{m['loaded']['p99_ms']:.2f}",
            f"{m['single']['p50_ms']:.3f}",
            f"{m['single']['p99_ms']:.3f}",
        )
    console.print(table)
    scale = results["scale_out"]
    hits = Table(title=f"Hit rate reading {scale['keys']:,} keys right after 4 warm nodes became 5")
    for column in ("routing", "hit rate", "optimum"):
        hits.add_column(column, justify="right")
    hits.add_row("consistent hashing (measured)", f"{scale['hit_rate_after']:.1%}", f"{scale['optimum']:.0%}")
    hits.add_row("hash % n (same keys, computed)", f"{scale['modulo_kept']:.1%}", f"{scale['optimum']:.0%}")
    console.print(hits)
    busiest = max(m["loaded"]["client_busy"] for m in speed.values())
    console.print(f"load generator: at most {busiest:.0%} of its core busy (the servers set the pace below 90%)")
    forward_ms = speed["forwarded"]["single"]["p50_ms"] - speed["local"]["single"]["p50_ms"]
    results["forward_added_p50_ms"] = forward_ms
    console.print(
        f"a forward adds {forward_ms:.3f} ms at p50 (one request at a time); "
        f"hit rate before scale-out {scale['hit_rate_before']:.0%}, ring's prediction "
        f"{scale['ring_kept_predicted']:.1%}; machine: {results['machine']}"
    )
    return {
        "local hits >= 50% of the bare endpoint's requests/s": speed["local"]["loaded"]["rps"]
        >= 0.5 * speed["bare"]["loaded"]["rps"],
        "a forward adds <= 1 ms at p50": forward_ms <= 1.0,
        "hit rate right after 4 -> 5 nodes >= 75%": scale["hit_rate_after"] >= 0.75,
        "no request failed": all(m["errors"] == 0 for m in speed.values()),
        "the load generator was not the bottleneck (< 90% busy)": busiest < 0.9,
    }


async def measure(args: argparse.Namespace, workdir: Path, console: Console) -> dict[str, Any]:
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    server_cpu, client_cpu = (cpus[0], cpus[1]) if len(cpus) >= 2 else (None, None)
    if client_cpu is not None:
        os.sched_setaffinity(0, {client_cpu})
    servers = Servers(workdir, server_cpu)
    peers = workdir / "peers"
    try:
        ports = [free_port() for _ in range(NODES + 2)]
        nodes = [f"127.0.0.1:{port}" for port in ports[:NODES]]
        write_members(peers, nodes)
        env = {
            "DATABASE_URL": f"sqlite:///{workdir / 'app.db'}",
            "API_PEERS_FILE": str(peers),
            "API_DISCOVERY_INTERVAL_SECONDS": "0.2",
        }
        bare = servers.start([__file__, "--serve-bare", str(ports[-1])], {}, ports[-1])
        started = [servers.start(["-m", "services.api"], {**env, "API_PORT": str(p)}, p) for p in ports[: NODES + 1]]
        servers.wait(started)
        servers.wait([bare], "/bare")
        await wait_for_members(started, nodes)
        console.log("servers up; measuring throughput and latency")
        speed = await throughput(bare, nodes, rounds=args.rounds, seconds=args.seconds)
        console.log("measuring the hit rate across scale-out")
        scale = await scale_out(nodes, started[NODES], peers, args.keys)
    finally:
        servers.stop()
    return {"throughput": speed, "scale_out": scale, "server_cpu": server_cpu, "client_cpu": client_cpu}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one short round (a smoke test)")
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return 0
    args.rounds, args.seconds, args.keys = (1, 0.5, 500) if args.quick else (3, 2.0, 5000)
    console = make_console()
    results = new_results()
    gc.disable()  # the load generator's own pauses would count as server latency
    with tempfile.TemporaryDirectory(prefix="bench_api-") as scratch:
        results.update(uvloop.run(measure(args, Path(scratch), console)))
    targets = report(console, results)
    results["targets"] = targets
    met = print_targets(console, targets)
    save_results(console, results, RESULTS.relative_to(ROOT))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
