"""Found trying the local system as a new user would: one system per state directory (a second
``up`` on the same ``--data-dir`` is refused, naming the first), and a restart on the same port
right after a stop (connections in TIME-WAIT do not block it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from services.local.cluster import free_port
from services.local.state_lock import StateDirectoryInUseError, StateLock
from tests.support import ROOT, LocalSystemProcess


def test_a_held_state_directory_is_refused_naming_its_holder(tmp_path: Path) -> None:
    first, second = StateLock(tmp_path), StateLock(tmp_path)
    assert second.holder_url() is None  # no lock file yet
    first.acquire(port=19080)
    try:
        assert second.holder_url() == "http://127.0.0.1:19080"  # what tools beside the system read
        with pytest.raises(StateDirectoryInUseError) as refused:
            second.acquire(port=19081)
        assert str(refused.value) == (
            f"another local system (pid {os.getpid()}, http://127.0.0.1:19080) is using the state directory "
            f"{tmp_path.resolve()}; stop it first, or give this one its own state with --data-dir DIR"
        )
        assert not second.held
    finally:
        first.release()
    assert second.holder_url() is None
    second.acquire(port=19081)  # free again once released
    assert second.held
    second.release()


def test_the_lock_of_a_killed_system_is_free(tmp_path: Path) -> None:
    """The kernel drops the lock when its holder dies, even by SIGKILL: no stale lock to clean up."""
    with subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from services.local.state_lock import StateLock; "
            "lock = StateLock(Path(sys.argv[1])); lock.acquire(port=1); print('held', flush=True); time.sleep(60)",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    ) as holder:
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline() == "held\n"
            with pytest.raises(StateDirectoryInUseError, match=f"pid {holder.pid}, http://127.0.0.1:1\\)"):
                StateLock(tmp_path).acquire(port=2)
        finally:
            holder.send_signal(signal.SIGKILL)
            holder.wait(timeout=10)
    lock = StateLock(tmp_path)
    lock.acquire(port=2)
    lock.release()


@pytest.mark.slow
def test_a_second_system_on_the_same_state_directory_is_refused(tmp_path: Path) -> None:
    first = LocalSystemProcess(tmp_path, "--nodes", "1", "--workers", "0")
    url = first.start()
    try:
        peers = (tmp_path / "peers").read_text()
        published = (tmp_path / "system.json").read_text()
        second = subprocess.run(
            [sys.executable, "-m", "services.local", "up", "--data-dir", str(tmp_path), "--port", str(free_port())],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert second.returncode == 1
        assert second.stdout == (
            f"error: another local system (pid {first.pid}, {url}) is using the state directory "
            f"{tmp_path.resolve()}; stop it first, or give this one its own state with --data-dir DIR\n"
        )
        # the first system's state is untouched and it still serves
        assert (tmp_path / "peers").read_text() == peers
        assert (tmp_path / "system.json").read_text() == published
        assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200
    finally:
        first.stop()


@pytest.mark.slow
def test_up_starts_again_at_once_on_the_port_it_just_left(tmp_path: Path) -> None:
    port = free_port()
    first = LocalSystemProcess(tmp_path, "--nodes", "1", "--workers", "0")
    url = first.start(port=port)
    # Keep-alive connections still open when the balancer stops: it closes them first, so their
    # ends on its port sit in TIME-WAIT for a minute after.
    with httpx.Client(base_url=url, timeout=10, limits=httpx.Limits(max_keepalive_connections=8)) as client:
        try:
            for _ in range(5):
                assert client.get("/healthz").status_code == 200
        finally:
            first.stop()
    time_wait = subprocess.run(
        ["ss", "-Htan", "state", "time-wait", f"( sport = :{port} )"], capture_output=True, text=True, check=False
    )
    if time_wait.returncode == 0:  # ss (iproute2) is there: the case this test is about did happen
        assert time_wait.stdout.strip(), "no connection in TIME-WAIT on the balancer's port"
    stopped = time.monotonic()
    again = LocalSystemProcess(tmp_path, "--nodes", "1", "--workers", "0")
    try:
        assert again.start(port=port) == url
        assert time.monotonic() - stopped < 30  # not the minute of TIME-WAIT
        assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200
    finally:
        again.stop()
