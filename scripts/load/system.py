"""The local system under load: find the running one (or start one), a token for it, its nodes' counters."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
SCOPES = ("items:read", "items:write", "jobs:submit", "jobs:read")


class LoadSetupError(RuntimeError):
    """The load cannot start; the message is one line saying why."""


def running_system(data_dir: Path) -> str | None:
    """The balancer URL of the local system running from ``data_dir``, or None.

    The state directory's lock (``services.local.state_lock``) records who holds it; an
    unlocked file is a system that has stopped.
    """
    from services.local.state_lock import StateLock

    return StateLock(data_dir).holder_url()


@dataclass
class StartedSystem:
    """A ``services.local up`` this load started, and stops."""

    url: str
    token: str | None
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)

    def stop(self) -> None:
        """SIGTERM and wait."""
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_system(data_dir: Path, port: int, *, nodes: int, workers: int, timeout: float = 120) -> StartedSystem:
    """Start ``python -m services.local up`` and wait for its ready line (and its token line, if it prints one)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "services.local", "up", "--data-dir", str(data_dir), "--port", str(port),
         "--nodes", str(nodes), "--workers", str(workers)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert process.stdout is not None
    lines: list[str] = []
    ready, tokened = threading.Event(), threading.Event()
    url: list[str] = []
    token: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if line.startswith("ready on "):
                url.append(line.split()[2])
                ready.set()
            elif line.startswith("token: "):
                token.append(line.removeprefix("token: ").strip())
                tokened.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(timeout) or not url:
        process.kill()
        process.wait()
        tail = "".join(lines[-3:]).strip().replace("\n", " | ")
        raise LoadSetupError(f"the local system did not start within {timeout:.0f}s: {tail}")
    tokened.wait(1.0)  # a system with authentication prints its token line right after the ready line
    return StartedSystem(url[0], token[0] if token else None, process, lines)


def token_for(data_dir: Path) -> str | None:
    """A token with every scope from ``python -m services.local token``, or None where that command does not exist."""
    command = [sys.executable, "-m", "services.local", "token"]
    for scope in SCOPES:
        command += ["--scope", scope]
    if data_dir.resolve() != (ROOT / ".local").resolve():
        command += ["--data-dir", str(data_dir)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=60, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    if done.returncode != 0:
        if "invalid choice: 'token'" in done.stderr:
            return None  # this system has no authentication
        message = (done.stdout + done.stderr).strip().splitlines()
        raise LoadSetupError(f"`services.local token` failed: {message[-1] if message else done.returncode}")
    lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    return lines[-1].removeprefix("token: ") if lines else None


def get_json(url: str, token: str | None = None) -> dict[str, object]:
    """GET ``url`` and parse its JSON."""
    answer = httpx.get(url, headers={"authorization": f"Bearer {token}"} if token else {}, timeout=10)
    answer.raise_for_status()
    result: dict[str, object] = answer.json()
    return result


_SAMPLE = re.compile(r'^(api_item_reads_total|api_forward_fallbacks_total)(?:\{tier="(\w+)"\})? ([0-9.e+]+)$')


@dataclass(frozen=True, slots=True)
class NodeCounters:
    """What one node's /metrics says about reads it served: by tier, and its fallbacks."""

    tiers: dict[str, float]
    fallbacks: float


def node_counters(cluster_url: str) -> dict[str, NodeCounters]:
    """Each web node's read counters, by node id, from its /metrics (nodes are reached directly)."""
    nodes = get_json(f"{cluster_url}/_cluster")["nodes"]
    assert isinstance(nodes, list)
    counters = {}
    for node in nodes:
        text = httpx.get(f"{node['url']}/metrics", timeout=10).text
        tiers: dict[str, float] = {}
        fallbacks = 0.0
        for line in text.splitlines():
            match = _SAMPLE.match(line)
            if match and match[1] == "api_item_reads_total":
                tiers[match[2]] = float(match[3])
            elif match:
                fallbacks = float(match[3])
        counters[str(node["id"])] = NodeCounters(tiers, fallbacks)
    return counters
