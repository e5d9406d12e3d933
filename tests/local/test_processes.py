"""The supervisor restarts a child that dies and stops children within the timeout."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from services.local.processes import ChildSpec, Supervisor


def _spec(tmp_path: Path, child_id: str, code: str) -> ChildSpec:
    return ChildSpec(
        id=child_id,
        kind="test",
        argv=[sys.executable, "-c", code],
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(Path.cwd())},
        log_path=tmp_path / f"{child_id}.log",
    )


async def _until(condition, timeout: float = 10) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(timeout * 20)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_a_dead_child_is_reported_and_restarted(tmp_path: Path) -> None:
    reports: list[str] = []

    async def run() -> tuple[int, int | None, int | None]:
        supervisor = Supervisor(report=reports.append)
        log = tmp_path / "sleeper.log"
        code = "import time; print('up', flush=True); time.sleep(60)"
        child = await supervisor.start(_spec(tmp_path, "sleeper", code))
        first = child.pid
        assert first is not None
        await _until(lambda: log.read_text().count("up") == 1)
        os.kill(first, signal.SIGKILL)
        await _until(lambda: log.read_text().count("up") == 2)
        second = child.pid
        await supervisor.stop_all(["test"])
        return child.restarts, first, second

    restarts, first, second = asyncio.run(run())
    assert restarts == 1
    assert second != first
    assert any("sleeper exited with code -9; restarting" in r for r in reports)
    assert (tmp_path / "sleeper.log").read_text().count("up") == 2


def test_a_child_ignoring_sigterm_is_killed_after_the_timeout(tmp_path: Path) -> None:
    reports: list[str] = []
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"
    )

    async def run() -> tuple[float, int | None]:
        supervisor = Supervisor(report=reports.append, stop_timeout=1.0)
        child = await supervisor.start(_spec(tmp_path, "stubborn", code))
        await _until(lambda: "ready" in (tmp_path / "stubborn.log").read_text())
        started = asyncio.get_running_loop().time()
        await supervisor.stop("stubborn")
        assert child.process is not None
        return asyncio.get_running_loop().time() - started, child.process.returncode

    took, returncode = asyncio.run(run())
    assert took > 0.9  # SIGTERM was given its time ...
    assert returncode == -signal.SIGKILL  # ... then the child was killed, well before its 60 s were up
    assert any("did not stop in 1s; killing it" in r for r in reports)
