"""What the load sends: a stated mix of Zipf-skewed item reads, item writes and job submissions."""

from __future__ import annotations

import itertools
import random
from typing import Any

from locust import FastHttpUser, constant_throughput, task

from load.mix import Mix

READ, WRITE, JOB = "GET /items/[key]", "PUT /items/[key]", "POST /jobs"
"""Locust's names of the three endpoints (one stats row each)."""


def zipf_sampler(population: int, s: float, seed: int) -> Any:
    """A function returning item ranks 0..population-1, rank 0 hottest, with Zipf exponent ``s``."""
    weights = list(itertools.accumulate(1 / rank**s for rank in range(1, population + 1)))
    rng = random.Random(seed)
    return lambda: rng.choices(range(population), cum_weights=weights, k=1)[0]


def user_class(*, mix: Mix, keys: int, zipf_s: float, per_user_rate: float, token: str | None) -> type[FastHttpUser]:
    """A locust user class sending ``mix`` over ``keys`` item keys, ``per_user_rate`` requests/s each (0: flat out)."""
    pick = zipf_sampler(keys, zipf_s, seed=2026)
    headers = {"authorization": f"Bearer {token}"} if token else {}
    sequence = itertools.count()

    class LoadUser(FastHttpUser):
        # Connections are kept alive; locust's fast client (geventhttpclient) is its cheapest per request.
        wait_time = constant_throughput(per_user_rate) if per_user_rate > 0 else (lambda _self: 0)
        default_headers = headers

        @task(int(mix.reads * 1000))
        def read(self) -> None:
            self.client.get(f"/items/item-{pick()}", name=READ)

        @task(int(mix.writes * 1000))
        def write(self) -> None:
            key = pick()
            self.client.put(f"/items/item-{key}", json={"value": {"n": key, "at": next(sequence)}}, name=WRITE)

        @task(int(mix.jobs * 1000))
        def submit(self) -> None:
            self.client.post("/jobs", json={"type": "echo", "payload": {"n": next(sequence)}}, name=JOB)

    return LoadUser
