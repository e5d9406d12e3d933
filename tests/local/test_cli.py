"""``python -m services.local up|demo``: options that cannot work are refused in one line, before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.local.__main__ import main
from services.local.cluster import redis_url_problem


@pytest.mark.parametrize("command", ["up", "demo"])
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--nodes", "0"], "error: --nodes must be at least 1 (got 0): requests need a web node;"),
        (["--nodes", "-2"], "error: --nodes must be at least 1 (got -2)"),
        (["--workers", "-1"], "error: --workers must be 0 or more (got -1)"),
        (["--port", "70000"], "error: --port must be a TCP port, 1..65535 (got 70000)"),
        (["--port", "0"], "error: --port must be a TCP port, 1..65535 (got 0)"),
        (
            ["--redis-url", "localhost:6379"],
            "error: --redis-url 'localhost:6379' is malformed: it must start with redis://, rediss:// or unix://; "
            "write it as redis://HOST:PORT/DB, e.g. redis://127.0.0.1:6379/0",
        ),
        (["--redis-url", "redis://127.0.0.1:99999/0"], "is malformed: its port is not valid"),
        (["--redis-url", "http://127.0.0.1:6379"], "is malformed: it must start with redis://"),
    ],
)
def test_options_that_cannot_work_are_one_line_refusals(
    command: str, args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    assert main([command, "--data-dir", str(data), *args]) == 2
    out, err = capsys.readouterr()
    assert out.startswith("error: --")
    assert message in out, out
    assert len(out.strip().splitlines()) == 1
    assert err == ""
    assert not data.exists()  # refused before anything was created or started


@pytest.mark.parametrize(
    "url",
    ["redis://127.0.0.1:6379/0", "rediss://:token@cache.example.com:6380/1", "unix:///run/redis.sock", "redis://"],
)
def test_urls_redis_accepts_are_not_called_malformed(url: str) -> None:
    assert redis_url_problem(url) is None
