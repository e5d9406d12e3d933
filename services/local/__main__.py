"""``python -m services.local``: the whole system on one machine.

python -m services.local up --nodes 3 --workers 2 --port 8080   # run until Ctrl-C
python -m services.local demo                                   # start it and run the scenario
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import signal
import sys
from pathlib import Path

from services.local.cluster import LocalSystem, Options, StartupError

REQUIRED_MODULES = ("fastapi", "uvicorn", "uvloop", "moto", "sqlalchemy", "croniter", "rich", "matplotlib")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m services.local", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_ in (("up", "run the system until Ctrl-C or SIGTERM"), ("demo", "run the system and the scenario")):
        command = commands.add_parser(name, help=help_)
        command.add_argument("--nodes", type=int, default=3, help="web nodes (default 3)")
        command.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
        command.add_argument("--port", type=int, default=8080, help="balancer port (default 8080)")
        command.add_argument("--db-url", help="database URL (default: a SQLite file under --data-dir)")
        command.add_argument("--redis-url", help="Redis URL for the shared cache tier (default: none)")
        command.add_argument(
            "--redis", action="store_true", help="run a Redis of its own for the cache tier (the console can stop it)"
        )
        command.add_argument("--data-dir", type=Path, default=Path(".local"), help="files and logs (default .local)")
        command.add_argument(
            "--balancing", choices=["least-outstanding", "round-robin"], default="least-outstanding", help="balancer"
        )
    return parser


def _missing_dependency() -> str | None:
    for module in REQUIRED_MODULES:
        if importlib.util.find_spec(module) is None:
            return module
    return None


def _say(message: str) -> None:
    print(message, flush=True)


async def _up(options: Options) -> int:
    system = LocalSystem(options, report=_say)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await system.start()
    except StartupError as error:
        _say(f"error: {error}")
        await system.stop()
        return 1
    except Exception as error:  # one line for the user; the details are in the children's logs
        _say(f"error: could not start: {type(error).__name__}: {error}")
        await system.stop()
        return 1
    _say(
        f"ready on {system.url}  (nodes: {len(system.pool.backends)}, workers: {options.workers}; logs: {system.logs})"
        f"  console: {system.console_url}"
    )
    await stop.wait()
    _say("stopping...")
    await system.stop()
    _say("stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen command."""
    args = _parser().parse_args(argv)
    missing = _missing_dependency()
    if missing:
        _say(f"error: the Python package {missing!r} is missing; run `make demo` (it installs everything) first")
        return 1
    options = Options(
        nodes=args.nodes,
        workers=args.workers,
        port=args.port,
        db_url=args.db_url,
        redis_url=args.redis_url,
        redis_server=args.redis,
        data_dir=args.data_dir,
        strategy=args.balancing,
    )
    try:
        options.check()
    except StartupError as error:
        _say(f"error: {error}")
        return 2
    import uvloop

    from services.logs import configure_logging

    configure_logging("local", level="INFO" if args.command == "up" else "WARNING", json=False)
    if args.command == "up":
        return uvloop.run(_up(options))
    from services.local.demo import run_demo

    return uvloop.run(run_demo(options))


if __name__ == "__main__":
    sys.exit(main())
