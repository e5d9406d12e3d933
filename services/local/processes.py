"""Child processes of the local system: start, watch, restart on death, stop cleanly.

Each child runs in its own session (so Ctrl-C reaches only the supervisor, which then
stops the children in order) behind :mod:`services.local.guard` (so no child outlives a
supervisor that was killed). Output goes to one log file per child.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

Report = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class ChildSpec:
    """What to run: a command, its environment and where its output goes."""

    id: str
    kind: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path


@dataclass(slots=True)
class Child:
    """A supervised child and its current process."""

    spec: ChildSpec
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0
    stopping: bool = False
    last_exit: int | None = None
    """The exit code of the last unplanned exit (negative: killed by that signal), None if none yet."""

    @property
    def pid(self) -> int | None:
        """The process id, or None before the first start."""
        return self.process.pid if self.process else None

    @property
    def alive(self) -> bool:
        """Whether the process is running."""
        return self.process is not None and self.process.returncode is None


class Supervisor:
    """Starts children, restarts those that die (with backoff), and stops them on request."""

    def __init__(self, *, report: Report, stop_timeout: float = 10.0) -> None:
        self.children: dict[str, Child] = {}
        self._report = report
        self._stop_timeout = stop_timeout
        self._watchers: dict[str, asyncio.Task[None]] = {}

    async def start(self, spec: ChildSpec) -> Child:
        """Start ``spec`` and keep it running until :meth:`stop`."""
        if spec.id in self.children:
            raise ValueError(f"a child named {spec.id!r} is already running")
        child = Child(spec)
        self.children[spec.id] = child
        await self._spawn(child)
        self._watchers[spec.id] = asyncio.create_task(self._watch(child), name=f"watch-{spec.id}")
        return child

    async def _spawn(self, child: Child) -> None:
        spec = child.spec
        spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        with spec.log_path.open("ab") as log:
            child.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "services.local.guard",
                *spec.argv,
                env=spec.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )

    async def _watch(self, child: Child) -> None:
        backoff = 0.5
        while True:
            assert child.process is not None
            code = await child.process.wait()
            if child.stopping:
                return
            child.restarts += 1
            child.last_exit = code
            self._report(
                f"{child.spec.kind} {child.spec.id} exited with code {code}; restarting (log: {child.spec.log_path})"
            )
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)
            if child.stopping:
                return
            await self._spawn(child)

    async def stop(self, child_id: str) -> None:
        """Stop a child: SIGTERM, then SIGKILL after the timeout. Raises KeyError if unknown."""
        child = self.children.pop(child_id)
        child.stopping = True
        watcher = self._watchers.pop(child_id)
        if child.alive:
            assert child.process is not None
            _signal_group(child.process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(child.process.wait(), self._stop_timeout)
            except TimeoutError:
                self._report(f"{child.spec.kind} {child_id} did not stop in {self._stop_timeout:.0f}s; killing it")
                _signal_group(child.process.pid, signal.SIGKILL)
                await child.process.wait()
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher

    async def stop_all(self, kinds_in_order: list[str]) -> None:
        """Stop every child, one kind at a time in the given order (others last), each kind in parallel."""
        order = {kind: i for i, kind in enumerate(kinds_in_order)}
        for rank in sorted({order.get(c.spec.kind, len(order)) for c in self.children.values()}):
            ids = [i for i, c in self.children.items() if order.get(c.spec.kind, len(order)) == rank]
            await asyncio.gather(*(self.stop(i) for i in ids))


def _signal_group(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signum)
