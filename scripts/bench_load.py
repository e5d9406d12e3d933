"""Benchmark: authenticated cache-hit reads through the local balancer against a bare FastAPI endpoint.

One run, one load generator (locust, the same user class and users for both): first a bare
FastAPI endpoint (``load.bare``, uvicorn with uvloop and httptools, like a node), then
``GET /items/{key}`` through the local system's balancer, every key written and read once
before (so every read is a cache hit at its owner), with a token where the system has
authentication. Prints the ratio against the target of issue 15 (>= 0.35) and writes
results/bench_load.json. Traffic goes to 127.0.0.1 only.

    python scripts/bench_load.py [--seconds 10] [--users 16] [--quick]
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402 - after the patch
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import httpx  # noqa: E402
from benchkit import make_console, new_results, print_targets, save_results  # noqa: E402
from load.__main__ import seed  # noqa: E402
from load.drive import drive  # noqa: E402
from load.mix import Mix  # noqa: E402
from load.report import node_shares, summarise  # noqa: E402
from load.system import node_counters, start_system, token_for  # noqa: E402
from load.traffic import user_class  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TARGET = 0.35


def _bare(port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "load.bare", str(port)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT / 'scripts'}:{ROOT}"},
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/items/x", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the bare endpoint did not start")


def main() -> int:
    """Run both contenders and print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="a smoke test: 3 s each, 200 keys")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.keys = 3.0, 200
    from services.local.cluster import free_port

    console = make_console()
    results = new_results()
    reads = Mix(reads=1, writes=0, jobs=0)
    port = free_port()
    bare = _bare(port)
    try:
        user = user_class(mix=reads, keys=args.keys, zipf_s=1.1, per_user_rate=0, token=None)
        bare_result = summarise(
            drive(f"http://127.0.0.1:{port}", user, users=args.users, duration=args.seconds), warmup=1
        )
    finally:
        bare.terminate()
        bare.wait()
    with tempfile.TemporaryDirectory() as data_dir:
        system = start_system(Path(data_dir), free_port(), nodes=3, workers=0)
        try:
            token = system.token or token_for(Path(data_dir))
            seed(system.url, args.keys, token)
            warm = user_class(mix=reads, keys=args.keys, zipf_s=0.0, per_user_rate=0, token=token)
            drive(system.url, warm, users=4, duration=2)  # uniform reads: every key cached at its owner
            before = node_counters(system.url)
            user = user_class(mix=reads, keys=args.keys, zipf_s=1.1, per_user_rate=0, token=token)
            system_result = summarise(drive(system.url, user, users=args.users, duration=args.seconds), warmup=1)
            system_result.update(node_shares(before, node_counters(system.url)))
            system_result["authenticated"] = bool(token)
        finally:
            system.stop()
    ratio = system_result["requests_per_s"] / bare_result["requests_per_s"]
    results.update({"users": args.users, "seconds": args.seconds, "bare": bare_result, "system": system_result,
                    "ratio": round(ratio, 3), "target": TARGET})  # fmt: skip
    for name, figures in (("bare FastAPI endpoint", bare_result), ("through the local balancer", system_result)):
        console.print(
            f"{name:<28} {figures['requests_per_s']:>8} req/s  p50 {figures['p50_ms']} ms  p99 {figures['p99_ms']} ms"
            f"  errors {figures['errors']}"
        )
    console.print(
        f"hit rate {system_result['hit_rate'] * 100:.1f}%, {'with' if token else 'without'} a token; "
        f"owner-served reads by node: {system_result['node_share']}"
    )
    console.print(f"ratio: {ratio:.2f} (target >= {TARGET})")
    met = print_targets(
        console, {f"cache-hit reads through the balancer >= {TARGET} x the bare endpoint": ratio >= TARGET}
    )
    save_results(console, results, ROOT / "results" / "bench_load.json")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
