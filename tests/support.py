"""Helpers several test packages share: polling for a condition (sync and async), a fake instance
metadata service, and the local system as a process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import pytest


def wait_until(predicate: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05) -> Any:
    """Poll until ``predicate()`` is truthy and return its value; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(interval)


async def eventually(predicate: Callable[[], Any], timeout: float = 15.0, interval: float = 0.02) -> Any:
    """:func:`wait_until` for async tests: poll ``predicate()`` without blocking the event loop."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        await anyio.sleep(interval)


ROOT = Path(__file__).resolve().parents[1]

INSTANCE_ID = "i-0123456789abcdef0"
TOKEN = "imds-session-token"


class FakeImds(ThreadingHTTPServer):
    """IMDSv2: a PUT for a session token, then GETs that must carry it."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ImdsHandler)
        self.state = "InService"
        self.unauthenticated = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ImdsHandler(BaseHTTPRequestHandler):
    server: FakeImds

    def do_PUT(self) -> None:
        if self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
            self._reply(200, TOKEN)
        else:
            self._reply(400, "")

    def do_GET(self) -> None:
        if self.headers.get("X-aws-ec2-metadata-token") != TOKEN:
            self.server.unauthenticated += 1
            self._reply(401, "")
            return
        values = {
            "/latest/meta-data/autoscaling/target-lifecycle-state": self.server.state,
            "/latest/meta-data/instance-id": INSTANCE_ID,
        }
        if self.path in values:
            self._reply(200, values[self.path])
        else:
            self._reply(404, "")

    def _reply(self, status: int, body: str) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *_args: Any) -> None:
        pass


def serve_imds() -> Iterator[FakeImds]:
    """A :class:`FakeImds` serving on loopback until the generator is closed (for fixtures)."""
    server = FakeImds()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


class LocalSystemProcess:
    """``python -m services.local up`` as a child process, for tests that use the whole system over HTTP.

    :meth:`start` returns once the system says it is ready (or fails the test with its output);
    :meth:`stop` sends SIGTERM and waits for it to stop its children.
    """

    def __init__(self, data_dir: Path, *args: str) -> None:
        self.data_dir = data_dir
        self.args = args
        self.url = ""
        self.output: list[str] = []
        self._process: subprocess.Popen[str] | None = None
        self._ready = threading.Event()
        self._reader: threading.Thread | None = None

    def start(self, timeout: float = 120.0, port: int | None = None) -> str:
        """Start it (on ``port``, else a free one) and return the balancer's URL."""
        from services.local.cluster import free_port

        port = port or free_port()
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "services.local",
                "up",
                "--data-dir",
                str(self.data_dir),
                "--port",
                str(port),
                *self.args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._ready.wait(timeout) or self._process.poll() is not None:
            self.stop()
            pytest.fail(f"the local system did not start within {timeout:g} s:\n{''.join(self.output)}")
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    @property
    def pid(self) -> int:
        """The supervisor's process id."""
        assert self._process is not None
        return self._process.pid

    def _read(self) -> None:
        assert self._process is not None
        assert self._process.stdout is not None
        with self._process.stdout as lines:
            for line in lines:
                self.output.append(line)
                if line.startswith("ready on "):
                    self._ready.set()
        self._ready.set()  # the process ended: start() looks at why

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.send_signal(signal.SIGTERM)
        try:
            self._process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._reader is not None:
            self._reader.join(timeout=10)
        self._process = None
