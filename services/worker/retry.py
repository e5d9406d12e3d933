"""What happens after a failed attempt: the retry delay, and whether the job retries or fails.

Pure policy, no I/O (the split dramatiq makes with ``compute_backoff``): the worker asks
:func:`decide` and :func:`backoff_seconds` and acts on the answers.

- A **transient** error retries while the message has receives left: the job is marked
  retrying and its message hidden for the backoff, after which SQS delivers it again.
- A **permanent** error, or a transient one on the message's last allowed receive, fails
  the job. Its message is released to the redrive policy, which moves it to the DLQ once
  its receive count reaches ``maxReceiveCount``; a queue without a DLQ gets it deleted.
"""

from __future__ import annotations

import math
from enum import Enum


class ErrorKind(Enum):
    """Whether another attempt could succeed."""

    TRANSIENT = "transient"
    """Another attempt may succeed (a handler's exception, an unreachable dependency)."""
    PERMANENT = "permanent"
    """No attempt will: ``PermanentJobError``, an unknown type, an invalid payload, a poison message."""


class Verdict(Enum):
    """What to do with a job and its message after a failed attempt."""

    RETRY = "retry"
    """The job retries: its message is hidden for the backoff, then received again."""
    DEAD_LETTER = "dead-letter"
    """The job fails: its message is released for the redrive policy to move to the DLQ."""
    FAIL = "fail"
    """The job fails and its message is deleted: the queue has no DLQ to keep it."""


def last_receive(receive_count: int, max_receive_count: int) -> bool:
    """True when this receive is the message's last: released now, the redrive policy moves it to the DLQ."""
    return receive_count >= max_receive_count


def decide(kind: ErrorKind, *, receive_count: int, max_receive_count: int, has_dead_letter_queue: bool) -> Verdict:
    """Retry, dead-letter or fail, from the error's kind and the message's receives (see the module doc)."""
    if kind is ErrorKind.TRANSIENT and not last_receive(receive_count, max_receive_count):
        return Verdict.RETRY
    return Verdict.DEAD_LETTER if has_dead_letter_queue else Verdict.FAIL


def backoff_ceiling(attempt: int, *, base: float, maximum: float) -> float:
    """The exponential ceiling for ``attempt`` (1, 2, ...): ``min(maximum, base * 2 ** (attempt - 1))``."""
    exponent = max(attempt - 1, 0)
    if exponent >= 1024:  # 2.0 ** 1024 overflows a float; the cap was reached long before
        return maximum
    return min(maximum, base * 2.0**exponent)


def backoff_seconds(attempt: int, *, base: float, maximum: float, jitter: float) -> int:
    """The delay before ``attempt`` + 1, in whole seconds (an SQS visibility timeout).

    Equal jitter: half the ceiling, plus ``jitter`` (a draw from 0..1) of the other half,
    rounded up. So the delay lies between ``ceil(ceiling / 2)`` and ``ceil(ceiling)``: never
    zero, never above ``maximum`` rounded up, and spread so failed jobs don't retry in step.
    """
    if not 0.0 <= jitter <= 1.0:
        raise ValueError(f"jitter must be in 0..1, got {jitter}")
    ceiling = backoff_ceiling(attempt, base=base, maximum=maximum)
    return math.ceil(ceiling / 2 + jitter * ceiling / 2)
