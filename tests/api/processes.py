"""Real API nodes as processes (``python -m services.api``) on loopback, started in parallel."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0


class NodeProcesses:
    """Starts, waits for, kills and stops node processes; their logs go to files under ``workdir``."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, ports: list[int], env: dict[str, str]) -> list[str]:
        """Start one node per port with ``env`` (plus API_PORT); wait until all answer /healthz."""
        names = []
        for port in ports:
            name = f"127.0.0.1:{port}"
            log = (self.workdir / f"node-{port}.log").open("wb")
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "services.api"],
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING", **env, "API_PORT": str(port)},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            log.close()
            names.append(name)
        self.wait_ready(names)
        return names

    def wait_ready(self, names: list[str]) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        pending = set(names)
        while pending:
            for name in list(pending):
                proc = self.procs[name]
                if proc.poll() is not None:
                    raise RuntimeError(f"node {name} exited with {proc.returncode}: {self.log(name)}")
                try:
                    if httpx.get(f"http://{name}/healthz", timeout=1).status_code == 200:
                        pending.discard(name)
                except httpx.HTTPError:
                    pass
            if pending and time.monotonic() > deadline:
                raise RuntimeError(f"nodes {sorted(pending)} did not start within {START_TIMEOUT} s")
            time.sleep(0.1)

    def log(self, name: str) -> str:
        port = name.rsplit(":", 1)[1]
        return (self.workdir / f"node-{port}.log").read_text()[-3000:]

    def kill(self, name: str) -> None:
        """Kill a node at once (SIGKILL): no goodbye to its peers."""
        proc = self.procs.pop(name)
        proc.kill()
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()
