"""The console over real HTTP: its event stream and the ``/_cluster`` actions it adds
(ring placement, kill -9 a worker, submit jobs, a read load, stopping and starting Redis),
each refused with a clear message when it cannot be done."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support import LocalSystemProcess, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSystemProcess]:
    """2 web nodes, 1 worker and a Redis of the system's own, shared by this module."""
    if shutil.which("redis-server") is None:
        from tests.conftest import skip_or_fail

        skip_or_fail("redis-server is not installed")
    process = LocalSystemProcess(tmp_path_factory.mktemp("console-api"), "--nodes", "2", "--workers", "1", "--redis")
    try:
        process.start()
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def system(running: LocalSystemProcess) -> str:
    """The balancer's URL."""
    return running.url


def _events(url: str, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    samples: list[dict[str, Any]] = []
    with httpx.stream("GET", f"{url}/_console/events", timeout=timeout) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            if line.startswith("data: "):
                samples.append(json.loads(line.removeprefix("data: ")))
                if len(samples) == count:
                    break
    return samples


def test_the_stream_sends_a_sample_about_every_second_with_every_part(system: str) -> None:
    started = time.monotonic()
    samples = _events(system, 3)
    assert time.monotonic() - started < 8
    assert [s["at"] for s in samples] == sorted({s["at"] for s in samples})  # new samples, in order
    assert 0.5 < samples[2]["at"] - samples[1]["at"] < 2.5
    last = samples[-1]
    cluster = httpx.get(f"{system}/_cluster").json()
    assert [n["id"] for n in last["nodes"]] == [n["id"] for n in cluster["nodes"]]
    assert set(last["ring"]["members"]) == {n["id"] for n in cluster["nodes"]}
    assert sum(last["ring"]["shares"].values()) == pytest.approx(1.0)
    assert [w["id"] for w in last["workers"]] == [w["id"] for w in cluster["workers"]]
    assert {"messages", "in_flight", "dead_letters"} <= set(last["queue"])
    assert set(last["jobs"]) == {"queued", "running", "retrying", "succeeded", "failed"}
    assert "sleep" in last["job_types"]
    assert last["redis"]["managed"] is True
    assert last["nodes"][0]["rps"] is not None  # rates from the second scrape on


def test_a_keys_placement_matches_the_owner_the_nodes_report(system: str) -> None:
    with httpx.Client(base_url=system, timeout=30) as http:
        assert http.put("/items/console-key", json={"value": 1}).status_code in (200, 201)
        where = http.get("/_cluster/ring", params={"key": "console-key"}).json()["key"]
        item = http.get("/items/console-key").json()
        nodes = {n["member"]: n["id"] for n in http.get("/_cluster").json()["nodes"]}
        assert where["owner"] == nodes[item["owner"]]
        assert len(where["fallbacks"]) == 1
        bad = http.get("/_cluster/ring", params={"key": "x" * 300})
        assert bad.status_code == 422
        assert bad.json()["error"]["code"] == "invalid_key"


def test_a_killed_worker_dies_of_sigkill_and_is_restarted(system: str) -> None:
    with httpx.Client(base_url=system, timeout=30) as http:
        worker = http.get("/_cluster").json()["workers"][0]
        killed = http.post(f"/_cluster/workers/{worker['id']}/kill")
        assert killed.status_code == 202
        assert killed.json() == {"id": worker["id"], "pid": worker["pid"], "signal": "SIGKILL"}

        def restarted() -> bool:
            now = http.get("/_cluster").json()["workers"][0]
            return bool(now["alive"] and now["pid"] != worker["pid"] and now["restarts"] == worker["restarts"] + 1)

        wait_until(restarted, timeout=20)
        assert http.get("/_cluster").json()["workers"][0]["last_exit"] == -9  # SIGKILL
        assert http.post("/_cluster/workers/worker-99/kill").status_code == 404
        node = http.get("/_cluster").json()["nodes"][0]["id"]
        assert http.post(f"/_cluster/workers/{node}/kill").status_code == 404  # a node is not a worker


def test_submitted_jobs_run_and_bad_submissions_name_the_field(system: str) -> None:
    with httpx.Client(base_url=system, timeout=30) as http:
        answer = http.post("/_cluster/jobs", json={"type": "echo", "count": 3, "payload": {"n": 1}})
        assert answer.status_code == 202
        accepted = answer.json()["accepted"]
        assert len(accepted) == 3
        wait_until(lambda: all(http.get(f"/jobs/{i}").json()["status"] == "succeeded" for i in accepted), timeout=30)
        for body, code, words in (
            ({"type": "nope"}, "invalid_type", "type must be one of"),
            ({"type": "echo", "count": 0}, "invalid_count", "count must be 1..500"),
            ({"type": "echo", "count": "3"}, "invalid_count", "count must be an integer"),
            ({"type": "echo", "payload": []}, "invalid_payload", "payload must be a JSON object"),
        ):
            refused = http.post("/_cluster/jobs", json=body)
            assert refused.status_code == 422, body
            assert refused.json()["error"]["code"] == code
            assert words in refused.json()["error"]["message"]
        assert http.post("/_cluster/jobs", content=b"{").status_code == 400


def test_the_read_load_starts_moves_the_counters_and_stops(system: str) -> None:
    with httpx.Client(base_url=system, timeout=30) as http:
        refused = http.put("/_cluster/load", json={"rate": 1000})
        assert refused.status_code == 422
        assert "rate must be 1..500" in refused.json()["error"]["message"]
        started = http.put("/_cluster/load", json={"rate": 40, "zipf_s": 1.2, "keys": 50})
        assert started.status_code == 200
        assert started.json()["running"] is True
        wait_until(lambda: http.get("/_cluster/load").json()["sent"] >= 40, timeout=15)
        assert http.delete("/_cluster/load").status_code == 204
        state = http.get("/_cluster/load").json()
        assert state["running"] is False
        assert set(state["statuses"]) <= {"200", "404"}  # a 404 writes the item: later reads find it
        assert state["errors"] == 0


def test_redis_stops_and_starts_and_a_second_stop_is_refused(system: str) -> None:
    with httpx.Client(base_url=system, timeout=30) as http:
        stopped = http.post("/_cluster/redis/stop")
        assert stopped.status_code == 200
        assert stopped.json()["running"] is False
        twice = http.post("/_cluster/redis/stop")
        assert twice.status_code == 409
        assert twice.json()["error"]["message"] == "Redis is already stopped; start it again first"
        assert http.put("/items/while-redis-is-down", json={"value": 2}).status_code in (200, 201)
        started = http.post("/_cluster/redis/start")
        assert started.status_code == 200
        assert started.json()["running"] is True
        assert http.post("/_cluster/redis/start").status_code == 409


def test_redis_actions_are_refused_without_a_redis_of_its_own(local_system: str) -> None:
    refused = httpx.post(f"{local_system}/_cluster/redis/stop", timeout=30)
    assert refused.status_code == 409
    assert "start it with --redis" in refused.json()["error"]["message"]


def test_the_ready_line_names_the_console(running: LocalSystemProcess) -> None:
    ready = next(line for line in running.output if line.startswith("ready on "))
    assert f"console: {running.url}/_console" in ready
