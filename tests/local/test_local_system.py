"""The whole system on one machine, end to end, through HTTP only.

Starts the queue (moto), the database (SQLite), 3 web nodes, the balancer, 2 workers and the
scheduler as processes, runs the demo scenario in its short form, and checks the outcome:
no lost or duplicated jobs, no 5xx, owners stable, movement on scale-out only to the new
node, hit rate recovering, the killed worker restarted, the poison job failed and
dead-lettered, the scheduler's job run, and no process left over.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from services.db import make_engine
from services.jobs.schema import jobs
from services.local.cluster import LocalSystem, Options, free_port
from services.local.scenario import SCALE_OUT_STALL_SECONDS, SHORT, ScenarioResult, run_scenario

pytestmark = pytest.mark.slow


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [pid for pid in pids if _alive(pid)]
        if not alive:
            return []
        time.sleep(0.1)
    return [pid for pid in pids if _alive(pid)]


def test_the_scenario_end_to_end(tmp_path: Path) -> None:
    reports: list[str] = []

    def report(message: str) -> None:
        reports.append(message)
        print(message)

    system = LocalSystem(Options(port=free_port(), data_dir=tmp_path, scheduler_fire_on_start=True), report=report)

    async def run() -> tuple[ScenarioResult, dict[str, Any], list[int]]:
        try:
            await system.start()
            result = await run_scenario(system.url, SHORT, lambda *_: None)
            cluster = system.cluster()
            pids = [c.pid for c in system.supervisor.children.values() if c.pid]
        finally:
            reports.clear()  # from here on: what stopping the system reported
            await system.stop()
        return result, cluster, pids

    result, cluster, pids = asyncio.run(run())

    assert result.server_errors == 0
    assert result.items_written == SHORT.items
    # every node agreed with the ring the client computes from /ring
    assert result.owner_mismatches == 0
    # 3 -> 4 nodes: about a quarter of the keys move, all to the new node, none between old ones
    assert set(result.moved_ring) == {result.new_node}
    assert result.moved_between_old_nodes == 0
    assert 0.15 < result.moved_total / SHORT.items < 0.35
    assert result.moved_modulo > 2 * result.moved_total
    # scale-out is invisible to clients: reads kept flowing while the node was added (it joined
    # the ring and the balancer only once ready), none failed and none stalled
    during = result.scale_out_samples
    assert len(during) > 50
    assert {sample.status for sample in during} == {200}
    assert result.slowest_during_scale_out < SCALE_OUT_STALL_SECONDS
    assert any(sample.at > result.scale_out_done_at for sample in during)
    # keys that were warm stay warm unless they moved: about 3/4 of them, where modulo keeps about 1/4
    kept = result.warm_keys_kept
    assert abs(kept - (1 - result.moved_total / SHORT.items)) < 0.1
    assert kept > 1 - result.moved_modulo / SHORT.items + 0.25
    # the hit rate dips after scale-out, then recovers
    assert result.hit_rate_warm > 0.6
    assert result.hit_rate_after_scale_out < result.hit_rate_warm
    assert result.hit_rate_recovered > result.hit_rate_after_scale_out
    # a worker killed mid-batch (holding jobs, which ran again) loses nothing: every job succeeded,
    # exactly once (status is terminal); the supervisor restarted the worker
    assert result.killed_worker
    assert result.jobs_retried > 0
    assert result.jobs_submitted == SHORT.jobs
    assert result.job_statuses == {"succeeded": SHORT.jobs}
    workers = {w["id"]: w for w in cluster["workers"]}
    assert workers[result.killed_worker]["restarts"] == 1
    assert workers[result.killed_worker]["alive"]
    # the poison job failed with its error and went to the DLQ
    assert result.poison_status == "failed"
    assert "poison" in result.poison_error
    assert result.poison_dead_lettered
    # the scheduler's firing at start went through the queue to a worker, which made and ran the job
    engine = make_engine(system.database_url)
    try:
        with engine.connect() as conn:
            query = sa.select(jobs.c.idempotency_key, jobs.c.status).where(jobs.c.type == "precompute")
            scheduled = [tuple(row) for row in conn.execute(query)]
    finally:
        engine.dispose()
    assert [status for _, status in scheduled] == ["succeeded"], scheduled
    assert scheduled[0][0].startswith("schedule:precompute:")
    # a clean shutdown: every child stopped on SIGTERM within its stop timeout (none had to be
    # killed), leaving no process behind
    assert reports == []
    assert _wait_gone(pids, 15) == []


def _start_up(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "services.local", "up", "--data-dir", str(tmp_path), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path.cwd())},
    )


def _child_pids(parent: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(parent)], capture_output=True, text=True, check=False)
    return [int(pid) for pid in out.stdout.split()]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_up_stops_everything_it_started(tmp_path: Path, signum: signal.Signals) -> None:
    """SIGTERM stops every part cleanly; even SIGKILL of the supervisor leaves no orphan."""
    with _start_up(tmp_path, "--nodes", "2", "--workers", "1", "--port", str(free_port())) as process:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("ready on"):
                break
        assert any(line.startswith("ready on http://127.0.0.1:") for line in lines), "".join(lines)
        children = _child_pids(process.pid)
        assert len(children) == 5  # queue, 2 nodes, 1 worker, scheduler
        process.send_signal(signum)
        process.wait(timeout=30)
        rest = process.stdout.read()
    if signum == signal.SIGTERM:
        assert process.returncode == 0
        assert "stopped" in rest
    assert _wait_gone(children, 15) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--db-url", "oracle://db/x"], "database URL scheme 'oracle' is not supported"),
        (["--db-url", "postgresql://nobody@127.0.0.1:1/none"], "is not reachable"),
        (["--redis-url", "redis://127.0.0.1:1/0"], "Redis at redis://127.0.0.1:1/0 is not reachable"),
    ],
)
def test_bad_settings_get_one_line_errors(tmp_path: Path, args: list[str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "services.local", "up", "--data-dir", str(tmp_path), "--port", str(free_port()), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert message in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert len(result.stdout.strip().splitlines()) == 1


def test_a_taken_port_is_a_one_line_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "services.local", "up", "--data-dir", str(tmp_path), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert (
        result.stdout.strip()
        == f"error: port {port} is already in use; choose another with --port (make demo PORT=...)"
    )
