"""The load's mix: shares of reads, writes and job submissions (no locust here: tests import it)."""

from __future__ import annotations

from dataclasses import dataclass


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
