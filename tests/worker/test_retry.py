"""The retry policy, checked by hand: backoff delays and the retry-or-fail decision."""

from __future__ import annotations

import pytest

from services.worker.retry import ErrorKind, Verdict, backoff_ceiling, backoff_seconds, decide

TRANSIENT, PERMANENT = ErrorKind.TRANSIENT, ErrorKind.PERMANENT
RETRY, DEAD_LETTER, FAIL = Verdict.RETRY, Verdict.DEAD_LETTER, Verdict.FAIL


@pytest.mark.parametrize(
    ("attempt", "base", "maximum", "ceiling", "shortest", "longest"),
    [
        (0, 2, 300, 2, 1, 2),  # attempt 0 (a claim that never ran) waits like the first
        (1, 2, 300, 2, 1, 2),
        (2, 2, 300, 4, 2, 4),
        (3, 2, 300, 8, 4, 8),
        (8, 2, 300, 256, 128, 256),
        (9, 2, 300, 300, 150, 300),  # 512 capped at the maximum
        (5000, 2, 300, 300, 150, 300),  # far past a float's range: still the maximum, no overflow
        (1, 0.1, 1, 0.1, 1, 1),  # fractions round up to whole seconds, never to 0
        (4, 0.1, 1, 0.8, 1, 1),
        (1, 5, 5, 5, 3, 5),
        (3, 1, 43200, 4, 2, 4),
        (17, 1, 43200, 43200, 21600, 43200),
    ],
)
def test_backoff_lies_between_half_the_ceiling_and_the_ceiling(
    attempt: int, base: float, maximum: float, ceiling: float, shortest: int, longest: int
) -> None:
    assert backoff_ceiling(attempt, base=base, maximum=maximum) == pytest.approx(ceiling)
    assert backoff_seconds(attempt, base=base, maximum=maximum, jitter=0.0) == shortest
    assert backoff_seconds(attempt, base=base, maximum=maximum, jitter=1.0) == longest
    middle = backoff_seconds(attempt, base=base, maximum=maximum, jitter=0.5)
    assert shortest <= middle <= longest


def test_jitter_spreads_the_delays() -> None:
    delays = {backoff_seconds(8, base=2, maximum=300, jitter=step / 100) for step in range(101)}
    assert min(delays) == 128
    assert max(delays) == 256
    assert len(delays) > 100 // 2


@pytest.mark.parametrize("jitter", [-0.1, 1.5])
def test_a_jitter_outside_0_to_1_is_refused(jitter: float) -> None:
    with pytest.raises(ValueError, match=r"jitter must be in 0\.\.1"):
        backoff_seconds(1, base=2, maximum=300, jitter=jitter)


@pytest.mark.parametrize(
    ("kind", "receive_count", "max_receive_count", "has_dlq", "verdict"),
    [
        (TRANSIENT, 1, 5, True, RETRY),
        (TRANSIENT, 4, 5, True, RETRY),
        (TRANSIENT, 5, 5, True, DEAD_LETTER),  # the last allowed receive
        (TRANSIENT, 7, 5, True, DEAD_LETTER),  # past it (the policy changed, or SQS counted high)
        (TRANSIENT, 1, 1, True, DEAD_LETTER),  # one attempt only
        (PERMANENT, 1, 5, True, DEAD_LETTER),  # no retry for what cannot succeed
        (PERMANENT, 5, 5, True, DEAD_LETTER),
        (TRANSIENT, 1, 5, False, RETRY),
        (TRANSIENT, 5, 5, False, FAIL),  # no DLQ to keep the message: it is deleted
        (PERMANENT, 1, 5, False, FAIL),
    ],
)
def test_retry_dead_letter_or_fail(
    kind: ErrorKind, receive_count: int, max_receive_count: int, has_dlq: bool, verdict: Verdict
) -> None:
    assert (
        decide(kind, receive_count=receive_count, max_receive_count=max_receive_count, has_dead_letter_queue=has_dlq)
        is verdict
    )
