"""What the load sends: a stated mix of Zipf-skewed item reads, item writes and job submissions."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from typing import Any

from locust import FastHttpUser, constant_throughput, task

READ, WRITE, JOB = "GET /items/[key]", "PUT /items/[key]", "POST /jobs"
"""Locust's names of the three endpoints (one stats row each)."""


@dataclass(frozen=True, slots=True)
class Mix:
    """Shares of reads, writes and job submissions; they need not add up to 1."""

    reads: float = 0.90
    writes: float = 0.08
    jobs: float = 0.02

    @classmethod
    def parse(cls, text: str) -> Mix:
        """``reads=90,writes=8,jobs=2`` → a Mix; raises ValueError naming a bad part."""
        shares: dict[str, float] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, sep, value = part.partition("=")
            if not sep or name not in ("reads", "writes", "jobs"):
                raise ValueError(f"--mix part {part!r} must be reads=N, writes=N or jobs=N")
            try:
                shares[name] = float(value)
            except ValueError:
                raise ValueError(f"--mix part {part!r}: {value!r} is not a number") from None
        mix = cls(**{"reads": 0.0, "writes": 0.0, "jobs": 0.0, **shares})
        if min(mix.reads, mix.writes, mix.jobs) < 0 or mix.reads + mix.writes + mix.jobs <= 0:
            raise ValueError(f"--mix {text!r} needs shares >= 0 and at least one above 0")
        return mix

    def describe(self) -> str:
        """The mix in percent, e.g. ``90% reads, 8% writes, 2% jobs``."""
        total = self.reads + self.writes + self.jobs
        return ", ".join(
            f"{share / total * 100:.0f}% {name}"
            for name, share in (("reads", self.reads), ("writes", self.writes), ("jobs", self.jobs))
            if share
        )


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
