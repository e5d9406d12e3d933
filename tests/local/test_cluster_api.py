"""The local system's ``/_cluster`` admin API and its balancer, over real HTTP: what it shows,
adding and removing nodes and workers, and its 404/405/409 answers in the standard error body."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support import wait_until

pytestmark = pytest.mark.slow


def _cluster(http: httpx.Client) -> dict[str, Any]:
    answer = http.get("/_cluster")
    assert answer.status_code == 200
    state: dict[str, Any] = answer.json()
    return state


def _healthy_nodes(http: httpx.Client) -> list[str]:
    return [node["id"] for node in _cluster(http)["nodes"] if node["healthy"]]


def test_the_view_names_nodes_workers_and_the_queues(local_system: str) -> None:
    with httpx.Client(base_url=local_system, timeout=30) as http:
        state = _cluster(http)
        assert len(state["nodes"]) >= 2
        for node in state["nodes"]:
            assert {"id", "url", "member", "pid", "healthy", "served"} <= set(node)
            assert node["url"] == f"http://{node['member']}"
        assert state["workers"] == []  # the fixture runs no workers
        assert {"url", "dead_letter_url", "messages", "dead_letters"} <= set(state["queue"])


def test_unknown_nodes_and_workers_are_404(local_system: str) -> None:
    with httpx.Client(base_url=local_system, timeout=30) as http:
        node = http.delete("/_cluster/nodes/node-99")
        assert node.status_code == 404
        assert node.json() == {"error": {"code": "not_found", "message": "no web node 'node-99'"}}
        worker = http.delete("/_cluster/workers/worker-99")
        assert worker.status_code == 404
        assert worker.json() == {"error": {"code": "not_found", "message": "no worker 'worker-99'"}}
        a_node = _cluster(http)["nodes"][0]["id"]
        assert http.delete(f"/_cluster/workers/{a_node}").status_code == 404  # a web node is not a worker


def test_a_wrong_method_is_405_naming_the_allowed_ones(local_system: str) -> None:
    with httpx.Client(base_url=local_system, timeout=30) as http:
        wrong = http.put("/_cluster")
        assert wrong.status_code == 405
        assert wrong.headers["allow"] == "GET, HEAD"
        assert wrong.json()["error"] == {
            "code": "method_not_allowed",
            "message": "method PUT is not allowed on /_cluster",
        }
        assert http.get("/_cluster/nodes").headers["allow"] == "POST"


def test_workers_are_added_and_removed(local_system: str) -> None:
    with httpx.Client(base_url=local_system, timeout=60) as http:
        added = http.post("/_cluster/workers")
        assert added.status_code == 201
        worker = added.json()["id"]
        assert wait_until(lambda: any(w["id"] == worker and w["alive"] for w in _cluster(http)["workers"]), 60)
        assert http.delete(f"/_cluster/workers/{worker}").status_code == 204
        assert _cluster(http)["workers"] == []
        assert http.delete(f"/_cluster/workers/{worker}").status_code == 404  # already gone


def test_the_last_web_node_cannot_be_removed(local_system: str) -> None:
    with httpx.Client(base_url=local_system, timeout=60) as http:
        nodes = [node["id"] for node in _cluster(http)["nodes"]]
        *others, last = nodes
        for node in others:
            assert http.delete(f"/_cluster/nodes/{node}").status_code == 204
        refused = http.delete(f"/_cluster/nodes/{last}")
        assert refused.status_code == 409
        assert refused.json()["error"] == {
            "code": "conflict",
            "message": f"{last} is the last web node; add another before removing it",
        }
        assert [node["id"] for node in _cluster(http)["nodes"]] == [last]
        assert http.delete(f"/_cluster/nodes/{others[0]}").status_code == 404  # removed before
        assert http.get("/healthz").status_code == 200  # the last node still serves
        # put the fixture back: two healthy web nodes
        added = http.post("/_cluster/nodes")
        assert added.status_code == 201
        assert set(added.json()) == {"id", "url"}
        assert wait_until(lambda: len(_healthy_nodes(http)) == 2, 60)


def test_answers_pass_through_with_one_date_header(local_system: str) -> None:
    with httpx.Client(base_url=local_system, timeout=30) as http:
        for path in ("/healthz", "/items/absent", "/_cluster", "/no/such/route"):
            answer = http.get(path)
            assert len(answer.headers.get_list("date")) == 1, (path, answer.headers)
        served = http.get("/healthz")
        assert served.headers["x-served-by-node"] in {node["id"] for node in _cluster(http)["nodes"]}
