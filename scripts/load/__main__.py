"""``python -m load`` (``make load``): locust, headless, against the local system.

Uses the system running from ``--data-dir`` (``make demo`` / ``services.local up``), else starts
one for the run and stops it after; ``--url`` names any balancer instead. Writes JSON and a
chart under results/ and prints a table.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()  # before anything opens a socket: locust's users are greenlets

import argparse  # noqa: E402 - after the patch
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import httpx  # noqa: E402
from gevent.pool import Pool  # noqa: E402

from load.drive import drive  # noqa: E402
from load.mix import Mix  # noqa: E402
from load.report import chart, node_shares, summarise, table  # noqa: E402
from load.system import (  # noqa: E402
    LoadSetupError,
    StartedSystem,
    node_counters,
    running_system,
    start_system,
    token_for,
)
from load.traffic import user_class  # noqa: E402


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="make load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="balancer URL (default: the system running from --data-dir, else start one)")
    parser.add_argument("--data-dir", type=Path, default=Path(".local"), help="the local system's state (.local)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load (default 20)")
    parser.add_argument("--users", type=int, default=16, help="concurrent locust users (default 16)")
    parser.add_argument("--rate", type=float, default=0.0, help="total requests/s to aim at (default 0: flat out)")
    parser.add_argument("--mix", default="reads=90,writes=8,jobs=2", help="shares (default reads=90,writes=8,jobs=2)")
    parser.add_argument("--keys", type=int, default=2000, help="item keys, written before the run (default 2000)")
    parser.add_argument("--zipf", type=float, default=1.1, help="Zipf exponent of the reads' keys (default 1.1)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds left out of the figures (default 2)")
    parser.add_argument("--token", default=os.environ.get("LOAD_TOKEN"), help="bearer token (default: LOAD_TOKEN, "
                        "else `services.local token`, where the system has authentication)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("results/load.json"), help="JSON (default results/load.json)")
    parser.add_argument("--chart", type=Path, default=Path("results/load.png"), help="chart (default results/load.png)")
    return parser


def seed(url: str, keys: int, token: str | None) -> None:
    """Write every item once, so reads find them (and owners cache them)."""
    headers = {"authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:

        def put(key: int) -> None:
            answer = client.put(f"/items/item-{key}", json={"value": {"n": key}})
            if answer.status_code not in (200, 201):
                raise LoadSetupError(f"writing item-{key} failed: {answer.status_code} {answer.text[:200]}")

        Pool(4).map(put, range(keys))  # a few at a time: SQLite has one writer


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Find or start the system, seed it, drive the load, and return the figures."""
    mix = Mix.parse(args.mix)
    started: StartedSystem | None = None
    url = args.url or running_system(args.data_dir)
    token = args.token
    if url is None:
        from services.local.cluster import free_port

        print(f"no local system runs from {args.data_dir}: starting one for this run", flush=True)
        started = start_system(args.data_dir, free_port(), nodes=3, workers=1)
        url, token = started.url, token or started.token
    try:
        if token is None and args.url is None:
            token = token_for(args.data_dir)
        print(f"load: {url}, {args.users} users, {args.duration:g} s, {mix.describe()}, "
              f"{'rate ' + format(args.rate, 'g') + '/s' if args.rate else 'flat out'}, "
              f"{'with' if token else 'without'} a token", flush=True)  # fmt: skip
        seed(url, args.keys, token)
        before = node_counters(url)
        user = user_class(mix=mix, keys=args.keys, zipf_s=args.zipf, per_user_rate=args.rate / args.users, token=token)
        observed = drive(url, user, users=args.users, duration=args.duration)
        result = summarise(observed, warmup=min(args.warmup, args.duration / 2))
        result.update(node_shares(before, node_counters(url)))
    finally:
        if started is not None:
            started.stop()
    result["settings"] = {
        "url": url, "users": args.users, "duration_s": args.duration, "rate": args.rate or None,
        "mix": mix.describe(), "keys": args.keys, "zipf_s": args.zipf, "authenticated": bool(token),
    }  # fmt: skip
    result["chart"] = str(chart(observed, args.chart, f"make load: {mix.describe()}, {args.users} users"))
    return result


def main(argv: list[str] | None = None) -> int:
    """Parse the flags, run, print and save."""
    args = _parser().parse_args(argv)
    try:
        result = run(args)
    except (LoadSetupError, ValueError) as error:
        print(f"error: {error}", flush=True)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    print(f"json: {args.out}  chart: {result['chart']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
