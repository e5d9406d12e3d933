"""Run locust in this process for a set time and summarise what it saw."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import gevent
from locust import FastHttpUser
from locust.env import Environment


@dataclass
class Observed:
    """Every request's completion time, latency and outcome, for the summary and the chart."""

    started: float = 0.0
    seconds: float = 0.0
    samples: list[tuple[float, float, str, int]] = field(default_factory=list)  # (at, ms, name, status)
    statuses: Counter[int] = field(default_factory=Counter)


def drive(url: str, user: type[FastHttpUser], *, users: int, duration: float, spawn_rate: float = 0) -> Observed:
    """Run ``users`` of ``user`` against ``url`` for ``duration`` seconds; return what was observed."""
    observed = Observed()
    environment = Environment(user_classes=[user], host=url, catch_exceptions=True)

    def on_request(name: str, response_time: float, response: object = None, **_: object) -> None:
        status = int(getattr(response, "status_code", 0) or 0)
        observed.samples.append((time.monotonic() - observed.started, response_time, name, status))
        observed.statuses[status] += 1

    environment.events.request.add_listener(on_request)  # type: ignore[no-untyped-call]
    runner = environment.create_local_runner()
    observed.started = time.monotonic()
    runner.start(users, spawn_rate=spawn_rate or users)
    gevent.sleep(duration)
    runner.quit()
    observed.seconds = time.monotonic() - observed.started
    return observed
