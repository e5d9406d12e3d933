"""One discovery poller per instance (services/routing/shared_discovery.py): leader election by flock,
the shared file, jitter, and backoff on throttling (the Auto Scaling API stubbed with botocore's Stubber)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from services.routing.discovery import AsgDiscovery, DiscoveryError
from services.routing.shared_discovery import SharedDiscovery


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Counting:
    """A source that answers ``members`` and counts the calls."""

    def __init__(self, members: list[str]) -> None:
        self.answer = members
        self.calls = 0

    def members(self) -> list[str]:
        self.calls += 1
        return list(self.answer)

    def describe(self) -> str:
        return "counting"


def test_one_process_polls_and_the_others_read_its_file(tmp_path: Path) -> None:
    clock, source = Clock(), Counting(["10.0.0.1:8080", "10.0.0.2:8080"])
    processes = [
        SharedDiscovery(source, run_dir=tmp_path, interval=5, clock=clock, jitter=lambda: 1.0) for _ in range(4)
    ]
    for _ in range(3):  # three refresh rounds of four processes, within one interval
        for process in processes:
            assert process.members() == ["10.0.0.1:8080", "10.0.0.2:8080"]
        clock.now += 1
    assert source.calls == 1
    assert [p.leader for p in processes] == [True, False, False, False]
    clock.now += 5
    source.answer = ["10.0.0.3:8080"]
    assert processes[1].members() == ["10.0.0.1:8080", "10.0.0.2:8080"]  # the file, until the leader polls
    assert processes[0].members() == ["10.0.0.3:8080"]
    assert processes[2].members() == ["10.0.0.3:8080"]
    assert source.calls == 2
    processes[0].close()  # the leader exits: the next process to ask takes over
    clock.now += 6
    assert processes[3].members() == ["10.0.0.3:8080"]
    assert processes[3].leader
    assert source.calls == 3


def test_a_missing_or_stale_file_is_an_error_so_the_ring_is_kept(tmp_path: Path) -> None:
    clock, source = Clock(), Counting(["10.0.0.1:8080"])
    leader = SharedDiscovery(source, run_dir=tmp_path, interval=5, clock=clock, max_backoff_seconds=20)
    reader = SharedDiscovery(
        source, run_dir=tmp_path, interval=5, clock=clock, max_backoff_seconds=20, first_answer_wait_seconds=0.2
    )
    assert leader._try_lead()  # it leads, but has not polled yet
    with pytest.raises(DiscoveryError, match="cannot be read yet"):
        reader.members()
    assert leader.members() == ["10.0.0.1:8080"]
    assert reader.members() == ["10.0.0.1:8080"]
    clock.now += 51  # the leader stopped refreshing for longer than 10 intervals
    with pytest.raises(DiscoveryError, match="is 51 s old: its poller has stopped"):
        reader.members()
    leader.close()


def test_at_start_a_reader_waits_for_the_leaders_first_answer(tmp_path: Path) -> None:
    source = Counting(["10.0.0.1:8080", "10.0.0.2:8080"])
    leader = SharedDiscovery(source, run_dir=tmp_path, interval=5)
    reader = SharedDiscovery(source, run_dir=tmp_path, interval=5, first_answer_wait_seconds=10)
    assert leader._try_lead()
    timer = threading.Timer(0.3, leader.members)  # the leader's first poll lands while the reader waits
    timer.start()
    started = time.monotonic()
    assert reader.members() == ["10.0.0.1:8080", "10.0.0.2:8080"]
    assert 0.2 < time.monotonic() - started < 5
    assert source.calls == 1
    timer.join()
    leader.close()


def test_throttling_backs_off_exponentially_with_jitter(tmp_path: Path) -> None:
    autoscaling = boto3.client("autoscaling", region_name="us-east-1")
    ec2 = boto3.client("ec2", region_name="us-east-1")
    clock = Clock()
    shared = SharedDiscovery(
        AsgDiscovery("web", port=8080, autoscaling=autoscaling, ec2=ec2),
        run_dir=tmp_path,
        interval=5,
        clock=clock,
        jitter=lambda: 1.1,
        max_backoff_seconds=60,
    )
    waits = []
    with Stubber(autoscaling) as stub:
        for _ in range(5):
            stub.add_client_error("describe_auto_scaling_groups", service_error_code="Throttling", http_status_code=400)
        for attempt in range(5):
            with pytest.raises(DiscoveryError, match="Throttling"):
                shared.members()
            waits.append(round(shared._next_poll - clock.now, 1))
            clock.now = shared._next_poll - 0.5
            with pytest.raises(DiscoveryError, match="cannot be read yet"):  # no poll during the backoff
                shared.members()
            assert shared.polls == attempt + 1
            clock.now += 0.5
        stub.assert_no_pending_responses()
    assert waits == [11.0, 22.0, 44.0, 66.0, 66.0]  # 10, 20, 40, then capped at 60 s; times the 1.1 jitter
